/*
 * The daemon as a whole: the listener, the set of connections with its cap, the deferred
 * freeing of closed connections, and the graceful stop.
 */
#include "server.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "allowlist.h"
#include "engine.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "sdlisten.h"
#include "reseolio/msg.h"

#ifndef RESEOLIOD_VERSION
#define RESEOLIOD_VERSION "unknown"
#endif

/* Free every connection that conn_close handed over. */
static void server_on_reap(evutil_socket_t fd, short what, void *arg)
{
    struct server *s = arg;
    struct conn *c;
    while ((c = TAILQ_FIRST(&s->dead)) != NULL) {
        TAILQ_REMOVE(&s->dead, c, link);
        conn_free(c);
    }
}

/* Tell a connection over the cap why, in one best-effort write, and close it. */
static void server_refuse(int fd, const char *why)
{
    struct rs_buf out;
    rs_buf_init(&out, 1024);
    struct rs_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.type = RS_MSG_ERROR;
    msg.u.error.code = RS_STR("limit");
    msg.u.error.message = (struct rs_str){why, (uint32_t)strlen(why)};
    msg.u.error.has = RS_HAS_RETRYABLE;
    msg.u.error.retryable = true;
    /* A new socket's buffer takes a frame this small at once; nothing more is tried. */
    if (rs_msg_encode(&out, &msg) == RS_OK &&
        send(fd, out.data, out.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        log_debug("could not tell a refused connection why: %s", strerror(errno));
    rs_buf_free(&out);
    close(fd);
}

/* A new connection from the listener: serve it, or refuse it over the cap. */
static void server_on_accept(int fd, const struct ucred *peer, void *arg)
{
    struct server *s = arg;
    if (s->stopping) {
        close(fd);
        return;
    }
    /* Closed without a word: the protocol has no code for it, and a stranger learns nothing
     * (not even the server's version). Our own socket is 0600 without an allow-list; the
     * check also holds if its mode is ever widened by hand. */
    char stranger[160];
    if (!allowlist_admits(s->cfg, listener_inherited(s->listener), fd, peer, stranger,
                          sizeof(stranger))) {
        metrics_conn_rejected();
        log_warn("refused a connection from pid %ld: %s; closed", (long)peer->pid, stranger);
        close(fd);
        return;
    }
    if (s->nconns >= s->cfg->max_connections) {
        char why[128];
        snprintf(why, sizeof(why), "connection limit reached (%u connections)",
                 s->cfg->max_connections);
        metrics_conn_rejected();
        log_warn("refused a connection from pid %ld: %s", (long)peer->pid, why);
        server_refuse(fd, why);
        return;
    }
    metrics_conn_accepted();
    (void)conn_new(s, fd, peer);
}

/* Storage identity, node id, listener. */
enum server_status server_init(struct server *s, struct event_base *base, const struct config *cfg,
                               char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    s->base = base;
    s->cfg = cfg;
    TAILQ_INIT(&s->conns);
    TAILQ_INIT(&s->dead);
    snprintf(s->server_name, sizeof(s->server_name), "reseoliod/%s", RESEOLIOD_VERSION);

    if (cfg->storage != NULL) {
        if (storage_identity_parse(&s->storage, cfg->storage, err, errlen) != 0)
            return SERVER_ERROR;
    } else if (storage_identity_init_private(&s->storage) != 0) {
        snprintf(err, errlen, "out of memory");
        return SERVER_ERROR;
    }
    if (node_id_generate(s->node_id) != 0) {
        snprintf(err, errlen, "cannot generate a node id: %s", strerror(errno));
        return SERVER_ERROR;
    }
    s->ev_reap = event_new(base, -1, 0, server_on_reap, s);
    if (s->ev_reap == NULL) {
        snprintf(err, errlen, "out of memory");
        return SERVER_ERROR;
    }
    int fd = sdlisten_take(err, errlen);
    if (fd == -2)
        return SERVER_ERROR;
    enum listener_status st =
        fd >= 0 ? listener_adopt(&s->listener, base, fd, server_on_accept, s, err, errlen)
                : listener_open(&s->listener, base, cfg->socket_path, cfg->allow_list,
                                server_on_accept, s, err, errlen);
    switch (st) {
    case LISTENER_OK:
        return SERVER_OK;
    case LISTENER_IN_USE:
        return SERVER_IN_USE;
    case LISTENER_ERROR:
        break;
    }
    return SERVER_ERROR;
}

/* Move a closed connection to the dead list; the reaper frees it after this callback. */
void server_conn_closed(struct server *s, struct conn *c)
{
    if (s->engine != NULL)
        engine_conn_closed(s->engine, c);
    TAILQ_REMOVE(&s->conns, c, link);
    s->nconns--;
    TAILQ_INSERT_TAIL(&s->dead, c, link);
    event_active(s->ev_reap, 0, 0);
}

/* The engine is done (or there is none): tell and close every client, end the loop. */
static void server_finish_stop(void *arg)
{
    struct server *s = arg;
    log_info("stopping: closing %u connection(s)", s->nconns);
    struct conn *c;
    while ((c = TAILQ_FIRST(&s->conns)) != NULL) {
        /* One try to say why; a client that does not read loses only this message. */
        if (conn_send_error(c, 0, RS_E_SHUTTING_DOWN, true, "the daemon is stopping") == 0 &&
            c->out.len > 0 && send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
            log_debug("conn %llu: could not send shutting_down: %s", (unsigned long long)c->id,
                      strerror(errno));
        conn_close(c, "the daemon is stopping");
    }
    event_base_loopexit(s->base, NULL);
}

/* Stop accepting, let the engine wind down, then close every client and end the loop. */
void server_stop(struct server *s, const char *why)
{
    if (s->stopping)
        return;
    s->stopping = true;
    log_info("stopping (%s): no new connections; %u open", why, s->nconns);
    listener_close(s->listener);
    s->listener = NULL;
    if (s->engine != NULL)
        engine_stop(s->engine, server_finish_stop, s);
    else
        server_finish_stop(s);
}

/* Release everything. */
void server_free(struct server *s)
{
    struct conn *c;
    while ((c = TAILQ_FIRST(&s->conns)) != NULL)
        conn_close(c, "the daemon is exiting");
    engine_free(s->engine);
    s->engine = NULL;
    if (s->ev_reap != NULL) {
        server_on_reap(-1, 0, s);
        event_free(s->ev_reap);
    }
    listener_close(s->listener);
    s->listener = NULL;
    storage_identity_free(&s->storage);
}
