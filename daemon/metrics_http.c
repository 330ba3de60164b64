/*
 * The HTTP endpoint of --metrics-addr: /metrics and /healthz on libevent's evhttp.
 */
#include "metrics_http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "engine.h"
#include "gauges.h"
#include "log.h"
#include "metrics_text.h"
#include "server.h"

/*
 * The cap. libevent 2.1's evhttp has no connection limit and tells nobody when it frees a
 * connection, so every connection's bufferevent is made here (evhttp_set_bevcb) and kept with
 * a reference of ours. evhttp_connection_free shuts the socket down for writing (the client
 * sees the end at once) and clears the bufferevent's callbacks; the sweep then drops our
 * reference, which closes the socket (BEV_OPT_CLOSE_ON_FREE: its number cannot be reused by
 * another connection while our bufferevent still watches it). At the cap evhttp's listener is
 * disabled and ev_refuse accepts and closes on the same listening socket instead.
 */
struct metrics_http {
    struct server *s; /* not owned */
    struct evhttp *http;
    char *unix_path;                   /* removed at close; NULL for TCP */
    struct evhttp_bound_socket *bound; /* the listening socket (owned by http) */
    struct event *ev_refuse;           /* at the cap: accept and close */
    struct event *ev_sweep;            /* while connections are open: find the ended ones */
    struct bufferevent *bevs[METRICS_HTTP_MAX_CONNS]; /* one reference each */
    size_t nbevs;
    bool refusing;
    uint64_t refused;
};

/* Switch between serving (evhttp's listener) and refusing (ev_refuse) new connections. */
static void metrics_http_refuse(struct metrics_http *h, bool on)
{
    if (h->refusing == on || h->bound == NULL || h->ev_refuse == NULL)
        return;
    struct evconnlistener *l = evhttp_bound_socket_get_listener(h->bound);
    if (on) {
        evconnlistener_disable(l);
        event_add(h->ev_refuse, NULL);
        log_debug("metrics: %d HTTP connections open: refusing more", METRICS_HTTP_MAX_CONNS);
    } else {
        event_del(h->ev_refuse);
        evconnlistener_enable(l);
    }
    h->refusing = on;
}

/* Drop our reference to the connections evhttp has freed; serve again below the cap. */
static void metrics_http_sweep(struct metrics_http *h)
{
    size_t k = 0;
    for (size_t i = 0; i < h->nbevs; i++) {
        bufferevent_event_cb ev = NULL;
        bufferevent_getcb(h->bevs[i], NULL, NULL, &ev, NULL);
        if (ev == NULL) /* only evhttp_connection_free leaves a server bufferevent without */
            bufferevent_decref(h->bevs[i]);
        else
            h->bevs[k++] = h->bevs[i];
    }
    h->nbevs = k;
    if (h->nbevs < METRICS_HTTP_MAX_CONNS)
        metrics_http_refuse(h, false);
    if (h->nbevs == 0)
        evtimer_del(h->ev_sweep);
}

static void metrics_http_on_sweep(evutil_socket_t fd, short what, void *arg)
{
    metrics_http_sweep(arg);
}

/* evhttp accepted a connection: its bufferevent, counted; at the cap stop serving new ones. */
static struct bufferevent *metrics_http_bev(struct event_base *base, void *arg)
{
    struct metrics_http *h = arg;
    metrics_http_sweep(h);
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL)
        return NULL; /* evhttp makes one itself: uncounted, but only when memory is short */
    if (h->nbevs < METRICS_HTTP_MAX_CONNS) {
        bufferevent_incref(bev);
        h->bevs[h->nbevs++] = bev;
    }
    if (h->nbevs >= METRICS_HTTP_MAX_CONNS)
        metrics_http_refuse(h, true); /* the listener stops accepting after this one */
    if (!evtimer_pending(h->ev_sweep, NULL)) {
        struct timeval tv = {0, METRICS_HTTP_SWEEP_MS * 1000};
        evtimer_add(h->ev_sweep, &tv);
    }
    return bev;
}

/* At the cap: accept every waiting connection and close it at once. */
static void metrics_http_on_refuse(evutil_socket_t fd, short what, void *arg)
{
    struct metrics_http *h = arg;
    for (int i = 0; i < 64; i++) {
        int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0)
            break;
        close(c);
        if (h->refused++ % 1000 == 0)
            log_warn("metrics: refused an HTTP connection: %d are open already (%llu refused "
                     "so far)",
                     METRICS_HTTP_MAX_CONNS, (unsigned long long)h->refused);
    }
}

/* A /metrics request waiting for the queue count. Owner: the gauges' callback. */
struct metrics_scrape {
    struct metrics_http *h;
    struct evhttp_request *req; /* stays valid until we reply, even if the peer left */
};

/* Answer with status code, content type and body. */
static void metrics_http_reply(struct evhttp_request *req, int code, const char *reason,
                               const char *type, struct evbuffer *body)
{
    struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
    evhttp_add_header(hdr, "Content-Type", type);
    evhttp_add_header(hdr, "Cache-Control", "no-store");
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD)
        evbuffer_drain(body, evbuffer_get_length(body));
    evhttp_send_reply(req, code, reason, body);
}

/* Render the metrics into the reply. */
static void metrics_http_send_metrics(struct metrics_http *h, struct evhttp_request *req)
{
    struct evbuffer *body = evbuffer_new();
    if (body == NULL) {
        evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
        return;
    }
    metrics_text_write(body, h->s);
    metrics_http_reply(req, HTTP_OK, "OK", "text/plain; version=0.0.4; charset=utf-8", body);
    evbuffer_free(body);
}

/* The queue count is fresh (or as fresh as it gets): answer. */
static void metrics_http_on_gauges(void *arg)
{
    struct metrics_scrape *sc = arg;
    metrics_http_send_metrics(sc->h, sc->req);
    free(sc);
}

static void metrics_http_healthz(struct metrics_http *h, struct evhttp_request *req)
{
    char why[200];
    bool up = metrics_health(h->s, why, sizeof(why));
    struct evbuffer *body = evbuffer_new();
    if (body == NULL) {
        evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
        return;
    }
    evbuffer_add_printf(body, "%s\n", why);
    metrics_http_reply(req, up ? HTTP_OK : 503, up ? "OK" : "Service Unavailable",
                       "text/plain; charset=utf-8", body);
    evbuffer_free(body);
}

/* Every request: route by path. */
static void metrics_http_on_request(struct evhttp_request *req, void *arg)
{
    struct metrics_http *h = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    if (path == NULL) {
        evhttp_send_error(req, HTTP_BADREQUEST, NULL);
        return;
    }
    if (strcmp(path, "/healthz") == 0) {
        metrics_http_healthz(h, req);
        return;
    }
    if (strcmp(path, "/metrics") != 0) {
        evhttp_send_error(req, HTTP_NOTFOUND, "try /metrics or /healthz");
        return;
    }
    struct engine *e = h->s->engine;
    struct metrics_scrape *sc = NULL;
    if (e == NULL || e->gauges == NULL || (sc = calloc(1, sizeof(*sc))) == NULL) {
        metrics_http_send_metrics(h, req);
        return;
    }
    sc->h = h;
    sc->req = req;
    gauges_read(e->gauges, metrics_http_on_gauges, sc);
}

/* A Unix socket at path (0600), listening; a stale socket file there is replaced. */
static int metrics_http_unix(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "%s exists and is not a socket; not replacing it", path);
            return -1;
        }
        unlink(path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    mode_t old = umask(0177);
    int rc = bind(fd, (const struct sockaddr *)&addr, sizeof(addr));
    umask(old);
    if (rc != 0 || listen(fd, 64) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int metrics_http_open(struct metrics_http **out, struct server *s, const char *addr, char *err,
                      size_t errlen)
{
    *out = NULL;
    struct metrics_http *h = calloc(1, sizeof(*h));
    if (h == NULL || (h->http = evhttp_new(s->base)) == NULL) {
        free(h);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    h->s = s;
    evhttp_set_timeout(h->http, METRICS_HTTP_TIMEOUT_S);
    evhttp_set_max_headers_size(h->http, METRICS_HTTP_MAX_HEADERS);
    evhttp_set_max_body_size(h->http, 0);
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(h->http, metrics_http_on_request, h);
    evhttp_set_bevcb(h->http, metrics_http_bev, h);
    h->ev_sweep = event_new(s->base, -1, EV_PERSIST, metrics_http_on_sweep, h);
    if (h->ev_sweep == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }

    if (addr[0] == '/') {
        int fd = metrics_http_unix(addr, err, errlen);
        if (fd < 0)
            goto fail;
        if ((h->unix_path = strdup(addr)) == NULL ||
            (h->bound = evhttp_accept_socket_with_handle(h->http, fd)) == NULL) {
            close(fd);
            snprintf(err, errlen, "cannot serve HTTP on %s", addr);
            goto fail;
        }
    } else {
        char host[260];
        const char *colon = strrchr(addr, ':');
        size_t hl = (size_t)(colon - addr);
        if (hl >= sizeof(host)) {
            snprintf(err, errlen, "metrics address %s: host too long", addr);
            goto fail;
        }
        memcpy(host, addr, hl);
        host[hl] = '\0';
        if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
            memmove(host, host + 1, hl - 2);
            host[hl - 2] = '\0';
        }
        int port = atoi(colon + 1);
        if ((h->bound = evhttp_bind_socket_with_handle(h->http, host, (uint16_t)port)) == NULL) {
            snprintf(err, errlen, "cannot listen for HTTP on %s: %s", addr, strerror(errno));
            goto fail;
        }
    }
    h->ev_refuse = event_new(s->base, evhttp_bound_socket_get_fd(h->bound), EV_READ | EV_PERSIST,
                             metrics_http_on_refuse, h);
    if (h->ev_refuse == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    *out = h;
    return 0;

fail:
    metrics_http_close(h);
    return -1;
}

void metrics_http_close(struct metrics_http *h)
{
    if (h == NULL)
        return;
    if (h->ev_refuse != NULL)
        event_free(h->ev_refuse);
    if (h->http != NULL)
        evhttp_free(h->http); /* frees every connection: our references are the last */
    for (size_t i = 0; i < h->nbevs; i++)
        bufferevent_decref(h->bevs[i]);
    if (h->ev_sweep != NULL)
        event_free(h->ev_sweep);
    if (h->unix_path != NULL && unlink(h->unix_path) != 0 && errno != ENOENT)
        log_warn("cannot remove %s: %s", h->unix_path, strerror(errno));
    free(h->unix_path);
    free(h);
}
