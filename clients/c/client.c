/*
 * libreseolio's session: connect and handshake, requests matched to replies by id, the one
 * router every incoming message goes through, and the poll loop blocking calls wait in.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "client_internal.h"
#include "reseolio/proto.h"

#ifndef RESEOLIO_CLIENT_VERSION
#define RESEOLIO_CLIENT_VERSION "unknown"
#endif

#define CLIENT_DEFAULT_TIMEOUT_MS   30000
#define CLIENT_DEFAULT_MAX_INFLIGHT 4096u
#define CLIENT_MAX_INFLIGHT         65536u
/* Output queued for the daemon, at most: this, or two largest frames if that is more. */
#define CLIENT_MIN_OUTPUT (8u * 1024u * 1024u)

/* Record why a call failed. */
enum rs_client_status client_fail(struct rs_client *c, enum rs_client_status st, const char *fmt,
                                  ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
    va_end(ap);
    return st;
}

/* Clear the last error; refuse calls on a client that is closing or whose session ended. */
enum rs_client_status client_begin(struct rs_client *c)
{
    c->errmsg[0] = '\0';
    c->errcode[0] = '\0';
    c->retryable = false;
    if (c->closing)
        return client_fail(c, RS_CLIENT_E_CLOSED, "the client is being closed");
    if (c->broken)
        return client_fail(c, RS_CLIENT_E_IO,
                           "the connection failed earlier (%s); close the client", c->broken_msg);
    return RS_CLIENT_OK;
}

static void client_destroy(struct rs_client *c);

/* A close asked for inside a callback happens here, once no callback runs any more. */
enum rs_client_status client_finish(struct rs_client *c, enum rs_client_status st)
{
    if (!c->closing)
        return st;
    if (c->depth == 0)
        client_destroy(c);
    return RS_CLIENT_E_CLOSED;
}

/* Run a callback; a close inside it only marks the client (hiredis's rule). */
void client_deliver(struct rs_client *c, rs_reply_cb cb, void *arg, struct client_reply *r)
{
    c->depth++;
    cb(c, &r->pub, arg);
    c->depth--;
}

/* Run every pending callback with the same failure. */
static void client_fail_pending(struct rs_client *c, enum rs_client_status st, const char *code,
                                bool retryable, const char *msg)
{
    for (uint32_t i = 0; c->pending.count > 0 && i <= c->pending.mask; i++) {
        struct pending_entry *e = &c->pending.slots[i];
        if (e->id == 0)
            continue;
        rs_reply_cb cb = e->cb;
        void *arg = e->arg;
        pending_remove(&c->pending, e);
        if (cb == NULL)
            continue;
        struct client_reply r;
        reply_init(&r);
        reply_set_failure(&r, st, code, retryable, msg);
        client_deliver(c, cb, arg, &r);
        reply_clear(&r);
    }
}

/* End the session; the first reason is the one every later call reports. */
void client_break(struct rs_client *c, enum rs_client_status st, const char *code, const char *fmt,
                  ...)
{
    if (c->broken)
        return;
    c->broken = true;
    c->broken_st = st;
    snprintf(c->broken_code, sizeof(c->broken_code), "%s", code != NULL ? code : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->broken_msg, sizeof(c->broken_msg), fmt, ap);
    va_end(ap);
    rs_buf_reset(&c->t.out);
    client_fail_pending(c, st, code, false, c->broken_msg);
}

/* The process's clock bound of an ordinary blocking call. */
int64_t client_deadline(const struct rs_client *c)
{
    return transport_deadline(c->timeout_ms);
}

/* Largest frame this session may send (header included). */
static size_t client_frame_max(const struct rs_client *c)
{
    uint32_t body = c->welcome.max_frame != 0 ? c->welcome.max_frame : RS_MAX_FRAME_PREHELLO;
    return RS_FRAME_HEADER + (size_t)body;
}

/* Write what the socket takes; a failure is kept for the next read to explain. */
static void client_write(struct rs_client *c)
{
    if (c->broken || c->write_failed || c->t.out.len == 0)
        return;
    if (transport_write(&c->t, c->write_err, sizeof(c->write_err)) != RS_CLIENT_OK) {
        c->write_failed = true;
        rs_buf_reset(&c->t.out);
    }
}

/* Queue a request and remember who takes its reply. */
enum rs_client_status client_submit(struct rs_client *c, struct rs_msg *req, enum call_kind kind,
                                    rs_reply_cb cb, void *arg, uint32_t *id)
{
    size_t frame_max = client_frame_max(c);
    if (c->pending.count >= c->pending.max)
        return client_fail(c, RS_CLIENT_E_LIMIT,
                           "%u requests are in flight already (max_inflight); process replies "
                           "first",
                           c->pending.count);
    if (c->t.out.len + frame_max > c->max_output)
        return client_fail(c, RS_CLIENT_E_LIMIT,
                           "%zu bytes of earlier requests are not written yet; process first",
                           c->t.out.len);
    struct pending_entry *e = pending_add(&c->pending);
    req->request_id = e->id;
    /* The limit makes the encoder refuse one frame above the session's frame limit. */
    c->t.out.limit = c->t.out.len + frame_max;
    enum rs_code rc = rs_msg_encode(&c->t.out, req);
    c->t.out.limit = c->max_output;
    if (rc != RS_OK) {
        pending_remove(&c->pending, e);
        if (rc == RS_E_LIMIT)
            return client_fail(c, RS_CLIENT_E_ARG,
                               "%s is larger than the daemon's frame limit (%zu bytes)",
                               rs_msg_type_name(req->type), frame_max - RS_FRAME_HEADER);
        if (rc == RS_E_INTERNAL)
            return client_fail(c, RS_CLIENT_E_NOMEM, "out of memory encoding %s",
                               rs_msg_type_name(req->type));
        return client_fail(c, RS_CLIENT_E_ARG,
                           "%s breaks a protocol rule (a field is missing or out of range)",
                           rs_msg_type_name(req->type));
    }
    e->kind = (uint8_t)kind;
    e->cb = cb;
    e->arg = arg;
    *id = e->id;
    client_write(c);
    return RS_CLIENT_OK;
}

/* A NUL-terminated copy of a wire string. */
static char *client_strdup(struct rs_str s)
{
    char *p = malloc((size_t)s.len + 1);
    if (p != NULL) {
        memcpy(p, s.ptr, s.len);
        p[s.len] = '\0';
    }
    return p;
}

/* Keep WELCOME's fields and apply its frame limit. */
static enum rs_client_status client_on_welcome(struct rs_client *c, const struct rs_msg *m,
                                               struct client_reply *r)
{
    const struct rs_welcome *w = &m->u.welcome;
    if (w->version != RS_PROTOCOL_VERSION) {
        snprintf(r->error, sizeof(r->error),
                 "the daemon chose protocol %llu; this client speaks %d",
                 (unsigned long long)w->version, RS_PROTOCOL_VERSION);
        return RS_CLIENT_E_PROTOCOL;
    }
    if (w->max_frame < RS_MAX_FRAME_MIN || w->max_frame > RS_MAX_FRAME_HARD) {
        snprintf(r->error, sizeof(r->error),
                 "the daemon announced a frame limit of %llu bytes, outside %u..%u",
                 (unsigned long long)w->max_frame, RS_MAX_FRAME_MIN, RS_MAX_FRAME_HARD);
        return RS_CLIENT_E_PROTOCOL;
    }
    c->node = client_strdup(w->node);
    c->server = client_strdup(w->server);
    c->storage = client_strdup(w->storage);
    if (c->node == NULL || c->server == NULL || c->storage == NULL) {
        snprintf(r->error, sizeof(r->error), "out of memory");
        return RS_CLIENT_E_NOMEM;
    }
    c->welcome.version = (uint32_t)w->version;
    c->welcome.node = c->node;
    c->welcome.server = c->server;
    c->welcome.max_frame = (uint32_t)w->max_frame;
    c->welcome.storage = c->storage;
    rs_reader_set_max(&c->t.in, c->welcome.max_frame);
    size_t twice = 2 * client_frame_max(c);
    c->max_output = twice > CLIENT_MIN_OUTPUT ? twice : CLIENT_MIN_OUTPUT;
    c->t.out.limit = c->max_output;
    return RS_CLIENT_OK;
}

/* The reply type each kind expects. */
static enum rs_msg_type client_reply_type(enum call_kind kind)
{
    switch (kind) {
    case CALL_HELLO:
        return RS_MSG_WELCOME;
    case CALL_PING:
        return RS_MSG_PONG;
    case CALL_ENQUEUE:
        return RS_MSG_ENQUEUED;
    case CALL_AWAIT:
        return RS_MSG_COMPLETED;
    case CALL_GET:
    case CALL_CANCEL:
    case CALL_RETRY:
        return RS_MSG_JOB;
    case CALL_LIST:
        return RS_MSG_JOBS;
    case CALL_SCHEDULE:
        return RS_MSG_SCHEDULE;
    case CALL_SCHEDULES:
        return RS_MSG_SCHEDULES;
    case CALL_STATS:
        return RS_MSG_STATISTICS;
    case CALL_REGISTER:
    case CALL_ACK:
    case CALL_SCHEDULE_DELETE:
        return RS_MSG_OK;
    }
    return RS_MSG_OK;
}

/* Turn the reply to a pending request into what its callback gets. */
static enum rs_client_status client_build_reply(struct rs_client *c, enum call_kind kind,
                                                const struct rs_msg *m, struct client_reply *r)
{
    if (m->type == RS_MSG_ERROR) {
        reply_from_error(r, kind, &m->u.error);
        return RS_CLIENT_OK;
    }
    enum rs_msg_type want = client_reply_type(kind);
    enum rs_client_status st = RS_CLIENT_OK;
    if (m->type != want) {
        snprintf(r->error, sizeof(r->error), "expected %s, the daemon sent %s",
                 rs_msg_type_name(want), rs_msg_type_name(m->type));
        st = RS_CLIENT_E_PROTOCOL;
    } else if (kind == CALL_HELLO) {
        st = client_on_welcome(c, m, r);
    } else if (want != RS_MSG_OK && want != RS_MSG_PONG) {
        return reply_from_msg(r, kind, m);
    }
    if (st != RS_CLIENT_OK)
        reply_set_failure(r, st, NULL, false, r->error);
    return st;
}

/*
 * Route one message from the daemon and free it. Replies go to their request's callback,
 * after the message is freed (a callback may read on). Unsolicited ones: DISPATCH and
 * ABANDON to the worker, ERROR ends the session.
 */
static void client_route(struct rs_client *c, struct rs_msg *m)
{
    if (m->request_id == 0) {
        enum rs_client_status st = RS_CLIENT_OK;
        if (m->type == RS_MSG_DISPATCH) {
            st = worker_on_dispatch(c, &m->u.dispatch);
        } else if (m->type == RS_MSG_ABANDON) {
            worker_on_abandon(c, &m->u.abandon);
        } else if (m->type == RS_MSG_ERROR) {
            const struct rs_error_msg *e = &m->u.error;
            char code[32];
            snprintf(code, sizeof(code), "%.*s", (int)e->code.len, e->code.ptr);
            client_break(c, RS_CLIENT_E_SERVER, code, "%s: %.*s", code, (int)e->message.len,
                         e->message.ptr);
        } else {
            client_break(c, RS_CLIENT_E_PROTOCOL, NULL, "the daemon sent %s without a request id",
                         rs_msg_type_name(m->type));
        }
        rs_msg_free(m);
        (void)st; /* a failed dispatch has broken the session itself */
        return;
    }

    struct pending_entry *e = pending_find(&c->pending, m->request_id);
    if (e == NULL) {
        client_break(c, RS_CLIENT_E_PROTOCOL, NULL,
                     "the daemon answered request %u, which is not in flight", m->request_id);
        rs_msg_free(m);
        return;
    }
    enum call_kind kind = (enum call_kind)e->kind;
    rs_reply_cb cb = e->cb;
    void *arg = e->arg;
    pending_remove(&c->pending, e);

    struct client_reply r;
    reply_init(&r);
    enum rs_client_status st = client_build_reply(c, kind, m, &r);
    rs_msg_free(m);
    if (cb != NULL)
        client_deliver(c, cb, arg, &r);
    if (st == RS_CLIENT_E_PROTOCOL)
        client_break(c, st, NULL, "%s", r.error);
    reply_clear(&r);
}

/* Route every complete frame; then read more, until the socket has nothing left. */
static void client_read(struct rs_client *c)
{
    for (;;) {
        while (!c->broken && !c->closing) {
            const uint8_t *body;
            uint32_t len;
            int got = rs_reader_next(&c->t.in, &body, &len);
            if (got == 0)
                break;
            if (got < 0) {
                client_break(c, RS_CLIENT_E_PROTOCOL, NULL, "the daemon sent a bad frame (%s)",
                             rs_code_name(rs_reader_error(&c->t.in)));
                return;
            }
            struct rs_limits lim;
            struct rs_error derr;
            struct rs_msg m;
            rs_limits_default(&lim);
            memset(&m, 0, sizeof(m));
            if (rs_msg_decode(&m, body, len, &lim, &derr) != RS_OK) {
                client_break(c, RS_CLIENT_E_PROTOCOL, NULL,
                             "the daemon sent a message this client cannot read: %s", derr.message);
                return;
            }
            client_route(c, &m);
        }
        if (c->broken || c->closing)
            return;
        char err[256];
        switch (transport_read(&c->t, err, sizeof(err))) {
        case TRANSPORT_READ_DATA:
            continue;
        case TRANSPORT_READ_AGAIN:
            return;
        case TRANSPORT_READ_EOF:
            client_break(c, RS_CLIENT_E_IO, NULL, "%s",
                         c->write_failed ? c->write_err : "the daemon closed the connection");
            return;
        case TRANSPORT_READ_ERROR:
            client_break(c, RS_CLIENT_E_IO, NULL, "%s", err);
            return;
        }
    }
}

/* One non-blocking round of I/O. */
void client_io(struct rs_client *c, int revents)
{
    client_write(c);
    if (revents == 0 || (revents & (POLLIN | POLLHUP | POLLERR)) != 0 || c->write_failed)
        client_read(c);
    /* A write failed and no EOF or ERROR explains it: nothing better is coming. */
    if (c->write_failed && !c->broken && !c->closing)
        client_break(c, RS_CLIENT_E_IO, NULL, "%s", c->write_err);
    client_write(c);
}

/* What to wait for on the socket. */
short client_poll_events(const struct rs_client *c)
{
    return (short)(POLLIN | (c->t.out.len > 0 && !c->write_failed ? POLLOUT : 0));
}

/* A blocking call's callback: keep the reply for the waiting call. */
static void client_sync_cb(struct rs_client *c, const struct rs_reply *reply, void *arg)
{
    (void)c;
    struct client_reply *out = arg;
    /* reply is the pub member, first in a struct client_reply the router owns. */
    reply_move(out, (struct client_reply *)(uintptr_t)reply);
    out->done = true;
}

/* Submit, then poll until the reply is in; a reply that comes after we gave up is dropped. */
enum rs_client_status client_call(struct rs_client *c, struct rs_msg *req, enum call_kind kind,
                                  int64_t deadline, struct client_reply *out)
{
    reply_init(out);
    uint32_t id = 0;
    enum rs_client_status st = client_submit(c, req, kind, client_sync_cb, out, &id);
    if (st != RS_CLIENT_OK)
        return st;
    while (!out->done) {
        if (c->closing || c->broken) {
            /* broken: every pending callback ran, ours too, unless it was a closing close */
            struct pending_entry *e = pending_find(&c->pending, id);
            if (e != NULL)
                e->cb = NULL;
            return c->closing ? client_fail(c, RS_CLIENT_E_CLOSED, "the client was closed")
                              : client_broken_status(c);
        }
        struct pollfd p = {.fd = c->t.fd, .events = client_poll_events(c)};
        int n = poll(&p, 1, transport_poll_ms(deadline));
        if (n < 0 && errno != EINTR) {
            client_break(c, RS_CLIENT_E_IO, NULL, "poll: %s", strerror(errno));
            continue;
        }
        if (n > 0) {
            client_io(c, p.revents);
            continue;
        }
        if (transport_expired(deadline)) {
            struct pending_entry *e = pending_find(&c->pending, id);
            if (e != NULL)
                e->cb = NULL;
            return client_fail(c, RS_CLIENT_E_TIMEOUT, "no answer to %s in time",
                               rs_msg_type_name(req->type));
        }
    }
    memcpy(c->errmsg, out->error, sizeof(c->errmsg));
    memcpy(c->errcode, out->code, sizeof(c->errcode));
    c->retryable = out->pub.retryable;
    return out->pub.status;
}

/* Defaults of a connection. */
void rs_client_opts_init(struct rs_client_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
}

/* The shared socket path rule (docs/protocol.md §1). */
int rs_client_default_socket(char *buf, size_t size)
{
    const char *env = getenv("RESEOLIO_SOCKET");
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    int n;
    if (env != NULL && env[0] != '\0')
        n = snprintf(buf, size, "%s", env);
    else if (xdg != NULL && xdg[0] != '\0')
        n = snprintf(buf, size, "%s/reseolio/reseolio.sock", xdg);
    else
        n = snprintf(buf, size, "/tmp/reseolio-%lu/reseolio.sock", (unsigned long)getuid());
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* Give a failed connect's message to the caller and free the half-made client. */
static enum rs_client_status client_connect_failed(struct rs_client *c, enum rs_client_status st,
                                                   char **errmsg)
{
    if (errmsg != NULL)
        *errmsg = strdup(c->errmsg[0] != '\0' ? c->errmsg : rs_client_status_name(st));
    client_destroy(c);
    return st;
}

/* A client with its buffers, not connected yet. */
static struct rs_client *client_new(const struct rs_client_opts *opts)
{
    struct rs_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->t.fd = -1;
    rs_reader_init(&c->t.in, RS_MAX_FRAME_PREHELLO);
    c->max_output = 16u * (RS_FRAME_HEADER + RS_MAX_FRAME_PREHELLO);
    rs_buf_init(&c->t.out, c->max_output);
    c->timeout_ms = opts->timeout_ms == 0 ? CLIENT_DEFAULT_TIMEOUT_MS : opts->timeout_ms;
    unsigned max = opts->max_inflight == 0 ? CLIENT_DEFAULT_MAX_INFLIGHT : opts->max_inflight;
    if (max > CLIENT_MAX_INFLIGHT)
        max = CLIENT_MAX_INFLIGHT;
    if (pending_init(&c->pending, max) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

/* Connect and do the handshake. */
enum rs_client_status rs_client_connect(const char *socket_path, const struct rs_client_opts *opts,
                                        struct rs_client **out, char **errmsg)
{
    if (errmsg != NULL)
        *errmsg = NULL;
    if (out == NULL) {
        if (errmsg != NULL)
            *errmsg = strdup("rs_client_connect: out must not be NULL");
        return RS_CLIENT_E_ARG;
    }
    *out = NULL;
    struct rs_client_opts defaults;
    if (opts == NULL) {
        rs_client_opts_init(&defaults);
        opts = &defaults;
    }
    struct rs_client *c = client_new(opts);
    if (c == NULL) {
        if (errmsg != NULL)
            *errmsg = strdup("out of memory");
        return RS_CLIENT_E_NOMEM;
    }

    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    if (socket_path == NULL) {
        if (rs_client_default_socket(path, sizeof(path)) != 0)
            return client_connect_failed(
                c, client_fail(c, RS_CLIENT_E_ARG, "the default socket path is too long"), errmsg);
        socket_path = path;
    }
    const char *name = opts->name != NULL ? opts->name : "libreseolio/" RESEOLIO_CLIENT_VERSION;
    size_t name_len = strlen(name);
    if (name_len == 0 || name_len > RS_MAX_CLIENT)
        return client_connect_failed(
            c, client_fail(c, RS_CLIENT_E_ARG, "client name must be 1..%u bytes", RS_MAX_CLIENT),
            errmsg);
    if (opts->storage != NULL && strlen(opts->storage) > RS_MAX_STORAGE)
        return client_connect_failed(
            c, client_fail(c, RS_CLIENT_E_ARG, "storage must be at most %u bytes", RS_MAX_STORAGE),
            errmsg);

    int64_t deadline = client_deadline(c);
    char err[256];
    enum rs_client_status st = transport_connect(&c->t, socket_path, deadline, err, sizeof(err));
    if (st != RS_CLIENT_OK)
        return client_connect_failed(c, client_fail(c, st, "%s (is reseoliod running?)", err),
                                     errmsg);

    struct rs_msg hello;
    memset(&hello, 0, sizeof(hello));
    hello.type = RS_MSG_HELLO;
    hello.u.hello.version = RS_PROTOCOL_VERSION;
    hello.u.hello.client = (struct rs_str){name, (uint32_t)name_len};
    hello.u.hello.has = RS_HAS_PID;
    hello.u.hello.pid = (uint64_t)getpid();
    if (opts->storage != NULL)
        hello.u.hello.storage = (struct rs_str){opts->storage, (uint32_t)strlen(opts->storage)};
    struct client_reply r;
    st = client_call(c, &hello, CALL_HELLO, deadline, &r);
    reply_clear(&r);
    if (st == RS_CLIENT_OK && c->broken)
        st = client_fail(c, c->broken_st, "%s", c->broken_msg);
    if (st != RS_CLIENT_OK) {
        char why[sizeof(c->errmsg)];
        memcpy(why, c->errmsg, sizeof(why));
        snprintf(c->errmsg, sizeof(c->errmsg), "handshake with %.108s failed: %.380s", socket_path,
                 why);
        return client_connect_failed(c, st, errmsg);
    }
    *out = c;
    return RS_CLIENT_OK;
}

/* The WELCOME of this connection. */
const struct rs_client_welcome *rs_client_welcome(const struct rs_client *c)
{
    return &c->welcome;
}

/* PING, PONG. */
enum rs_client_status rs_client_ping(struct rs_client *c)
{
    if (c == NULL)
        return RS_CLIENT_E_ARG;
    enum rs_client_status st = client_begin(c);
    if (st != RS_CLIENT_OK)
        return st;
    struct rs_msg ping;
    memset(&ping, 0, sizeof(ping));
    ping.type = RS_MSG_PING;
    struct client_reply r;
    st = client_call(c, &ping, CALL_PING, client_deadline(c), &r);
    reply_clear(&r);
    return client_finish(c, st);
}

/* PING without waiting. */
enum rs_client_status rs_client_ping_async(struct rs_client *c, rs_reply_cb cb, void *arg)
{
    if (c == NULL || cb == NULL)
        return RS_CLIENT_E_ARG;
    enum rs_client_status st = client_begin(c);
    if (st != RS_CLIENT_OK)
        return st;
    struct rs_msg ping;
    memset(&ping, 0, sizeof(ping));
    ping.type = RS_MSG_PING;
    uint32_t id;
    return client_submit(c, &ping, CALL_PING, cb, arg, &id);
}

/* The failure that ended the session, as the last error. */
enum rs_client_status client_broken_status(struct rs_client *c)
{
    memcpy(c->errcode, c->broken_code, sizeof(c->errcode));
    return client_fail(c, c->broken_st, "%s", c->broken_msg);
}

/* Handle whatever is ready, without waiting. */
enum rs_client_status rs_client_process(struct rs_client *c, int revents)
{
    if (c == NULL)
        return RS_CLIENT_E_ARG;
    if (c->broken && !c->closing)
        return client_broken_status(c);
    enum rs_client_status st = client_begin(c);
    if (st != RS_CLIENT_OK)
        return st;
    client_io(c, revents);
    if (c->broken && !c->closing)
        st = client_broken_status(c);
    return client_finish(c, st);
}

/* Output is waiting for the socket. */
bool rs_client_want_write(const struct rs_client *c)
{
    return c->t.out.len > 0 && !c->write_failed && !c->broken;
}

/* Message of the last failure. */
const char *rs_client_errmsg(const struct rs_client *c)
{
    return c->errmsg;
}

/* Wire code of the last ERROR reply. */
const char *rs_client_error_code(const struct rs_client *c)
{
    return c->errcode[0] != '\0' ? c->errcode : NULL;
}

/* Whether the daemon's last ERROR was retryable. */
bool rs_client_error_retryable(const struct rs_client *c)
{
    return c->retryable;
}

/* The socket, for an event loop. */
int rs_client_fd(const struct rs_client *c)
{
    return c->t.fd;
}

/* Tell every pending callback, close the socket, free everything. */
static void client_destroy(struct rs_client *c)
{
    c->closing = true;
    c->depth++; /* a close from one of the callbacks below is a no-op */
    client_fail_pending(c, RS_CLIENT_E_CLOSED, NULL, false, "the client was closed");
    worker_free(c->worker);
    pending_free(&c->pending);
    transport_close(&c->t);
    free(c->node);
    free(c->server);
    free(c->storage);
    free(c);
}

/* Close and free, or only mark when a callback of this client is running. */
void rs_client_close(struct rs_client *c)
{
    if (c == NULL)
        return;
    if (c->depth > 0) {
        c->closing = true;
        return;
    }
    client_destroy(c);
}

/* Short names of statuses. */
const char *rs_client_status_name(enum rs_client_status st)
{
    switch (st) {
    case RS_CLIENT_OK:
        return "ok";
    case RS_CLIENT_E_ARG:
        return "bad argument";
    case RS_CLIENT_E_NOMEM:
        return "out of memory";
    case RS_CLIENT_E_CONNECT:
        return "cannot connect";
    case RS_CLIENT_E_IO:
        return "connection failed";
    case RS_CLIENT_E_TIMEOUT:
        return "timeout";
    case RS_CLIENT_E_PROTOCOL:
        return "protocol error";
    case RS_CLIENT_E_SERVER:
        return "daemon error";
    case RS_CLIENT_E_LIMIT:
        return "client queue full";
    case RS_CLIENT_E_CLOSED:
        return "client closed";
    }
    return "unknown status";
}
