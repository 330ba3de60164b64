/*
 * libreseolio's connection: the handshake, request ids matched to replies, and the public
 * calls built on them. Blocking today; the same reply routing serves a non-blocking mode.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "reseolio.h"
#include "reseolio/msg.h"
#include "reseolio/proto.h"
#include "transport.h"

#ifndef RESEOLIO_CLIENT_VERSION
#define RESEOLIO_CLIENT_VERSION "unknown"
#endif

#define CLIENT_DEFAULT_TIMEOUT_MS 30000

/* Owner: the application, from rs_client_connect to rs_client_close. */
struct rs_client {
    struct transport t;
    int timeout_ms;
    bool broken;      /* the stream is in an unknown state: every call fails */
    uint32_t next_id; /* request ids 1..2^32-1, then around again (0 is unsolicited) */
    struct rs_client_welcome welcome; /* strings below are owned, the struct points at them */
    char *node;
    char *server;
    char *storage;
    char errmsg[512];
    char errcode[32]; /* wire code of the last ERROR reply, "" when the last failure was not */
};

/* Handles the reply to one request while its body is still valid. */
typedef enum rs_client_status (*client_reply_fn)(struct rs_client *c, const struct rs_msg *reply,
                                                 void *ctx);

/* Record why a call failed and return its status. */
__attribute__((format(printf, 3, 4))) static enum rs_client_status
client_fail(struct rs_client *c, enum rs_client_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
    va_end(ap);
    if (st == RS_CLIENT_E_IO || st == RS_CLIENT_E_TIMEOUT || st == RS_CLIENT_E_PROTOCOL)
        c->broken = true;
    return st;
}

/* Remember an ERROR from the daemon as the call's failure. */
static enum rs_client_status client_server_error(struct rs_client *c, const struct rs_msg *m)
{
    const struct rs_error_msg *e = &m->u.error;
    size_t n = e->code.len < sizeof(c->errcode) - 1 ? e->code.len : sizeof(c->errcode) - 1;
    memcpy(c->errcode, e->code.ptr, n);
    c->errcode[n] = '\0';
    return client_fail(c, RS_CLIENT_E_SERVER, "%s: %.*s", c->errcode, (int)e->message.len,
                       e->message.ptr);
}

/* The next request id; 0 is reserved for unsolicited messages. */
static uint32_t client_next_id(struct rs_client *c)
{
    if (++c->next_id == 0)
        c->next_id = 1;
    return c->next_id;
}

/*
 * What one incoming message means, given the call waiting for want_id (0: none). Sets *done
 * when it ends that call or the session: its reply, or an ERROR with request id 0 (a framing
 * error, a connection limit, a shutdown). Anything else is for others (later: DISPATCH to the
 * worker's handler, replies of asynchronous calls) and passes.
 */
static enum rs_client_status client_route(struct rs_client *c, const struct rs_msg *m,
                                          uint32_t want_id, client_reply_fn on_reply, void *ctx,
                                          bool *done)
{
    if (want_id != 0 && m->request_id == want_id) {
        *done = true;
        return m->type == RS_MSG_ERROR ? client_server_error(c, m) : on_reply(c, m, ctx);
    }
    if (m->request_id == 0 && m->type == RS_MSG_ERROR) {
        *done = true;
        enum rs_client_status st = client_server_error(c, m);
        c->broken = true;
        return st;
    }
    return RS_CLIENT_OK;
}

/* Decode a body from the daemon; a body we cannot read breaks the session. */
static enum rs_client_status client_decode(struct rs_client *c, struct rs_msg *m,
                                           const uint8_t *body, uint32_t len)
{
    struct rs_limits lim;
    struct rs_error derr;
    rs_limits_default(&lim);
    memset(m, 0, sizeof(*m));
    if (rs_msg_decode(m, body, len, &lim, &derr) != RS_OK)
        return client_fail(c, RS_CLIENT_E_PROTOCOL,
                           "the daemon sent a message this client cannot read: %s", derr.message);
    return RS_CLIENT_OK;
}

/*
 * Send req with a fresh request id and wait for the reply with that id. Messages for other
 * ids are not ours to answer here (later: DISPATCH to the worker, replies of asynchronous
 * calls); an ERROR with id 0 means the daemon is dropping the connection.
 */
static enum rs_client_status client_call(struct rs_client *c, struct rs_msg *req,
                                         client_reply_fn on_reply, void *ctx)
{
    c->errmsg[0] = '\0';
    c->errcode[0] = '\0';
    if (c->broken)
        return client_fail(c, RS_CLIENT_E_IO, "the connection failed earlier; close the client");

    req->request_id = client_next_id(c);
    switch (rs_msg_encode(&c->t.out, req)) {
    case RS_OK:
        break;
    case RS_E_LIMIT:
        return client_fail(c, RS_CLIENT_E_ARG, "%s is larger than the daemon's frame limit",
                           rs_msg_type_name(req->type));
    case RS_E_INTERNAL:
        return client_fail(c, RS_CLIENT_E_NOMEM, "out of memory encoding %s",
                           rs_msg_type_name(req->type));
    default:
        return client_fail(c, RS_CLIENT_E_ARG,
                           "%s breaks a protocol rule (a field is missing or out of range)",
                           rs_msg_type_name(req->type));
    }

    int64_t deadline = transport_deadline(c->timeout_ms);
    char err[256];
    enum rs_client_status sent = transport_flush(&c->t, deadline, err, sizeof(err));
    char send_err[256];
    if (sent != RS_CLIENT_OK) {
        /* The daemon may have said why before it closed (a connection limit): read on. */
        memcpy(send_err, err, sizeof(send_err));
        if (sent != RS_CLIENT_E_IO)
            return client_fail(c, sent, "%s", send_err);
    }

    for (;;) {
        const uint8_t *body;
        uint32_t len;
        enum rs_client_status st = transport_next(&c->t, deadline, &body, &len, err, sizeof(err));
        if (st != RS_CLIENT_OK)
            return client_fail(c, sent != RS_CLIENT_OK ? sent : st, "%s",
                               sent != RS_CLIENT_OK ? send_err : err);

        struct rs_msg m;
        if ((st = client_decode(c, &m, body, len)) != RS_CLIENT_OK)
            return st;
        bool done = false;
        st = client_route(c, &m, req->request_id, on_reply, ctx, &done);
        rs_msg_free(&m);
        if (done)
            return st;
    }
}

/* A reply that must be exactly one type and carries nothing we keep. */
static enum rs_client_status client_expect_type(struct rs_client *c, const struct rs_msg *reply,
                                                void *ctx)
{
    enum rs_msg_type want = *(const enum rs_msg_type *)ctx;
    if (reply->type != want)
        return client_fail(c, RS_CLIENT_E_PROTOCOL, "expected %s, the daemon sent %s",
                           rs_msg_type_name(want), rs_msg_type_name(reply->type));
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
static enum rs_client_status client_on_welcome(struct rs_client *c, const struct rs_msg *reply,
                                               void *ctx)
{
    if (reply->type != RS_MSG_WELCOME)
        return client_fail(c, RS_CLIENT_E_PROTOCOL, "expected WELCOME, the daemon sent %s",
                           rs_msg_type_name(reply->type));
    const struct rs_welcome *w = &reply->u.welcome;
    if (w->version != RS_PROTOCOL_VERSION)
        return client_fail(c, RS_CLIENT_E_PROTOCOL,
                           "the daemon chose protocol %llu; this "
                           "client speaks %d",
                           (unsigned long long)w->version, RS_PROTOCOL_VERSION);
    if (w->max_frame < RS_MAX_FRAME_MIN || w->max_frame > RS_MAX_FRAME_HARD)
        return client_fail(c, RS_CLIENT_E_PROTOCOL,
                           "the daemon announced a frame limit of %llu "
                           "bytes, outside %u..%u",
                           (unsigned long long)w->max_frame, RS_MAX_FRAME_MIN, RS_MAX_FRAME_HARD);
    c->node = client_strdup(w->node);
    c->server = client_strdup(w->server);
    c->storage = client_strdup(w->storage);
    if (c->node == NULL || c->server == NULL || c->storage == NULL)
        return client_fail(c, RS_CLIENT_E_NOMEM, "out of memory");
    c->welcome.version = (uint32_t)w->version;
    c->welcome.node = c->node;
    c->welcome.server = c->server;
    c->welcome.max_frame = (uint32_t)w->max_frame;
    c->welcome.storage = c->storage;
    rs_reader_set_max(&c->t.in, c->welcome.max_frame);
    c->t.out.limit = RS_FRAME_HEADER + (size_t)c->welcome.max_frame;
    return RS_CLIENT_OK;
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
    rs_client_close(c);
    return st;
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
    struct rs_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        if (errmsg != NULL)
            *errmsg = strdup("out of memory");
        return RS_CLIENT_E_NOMEM;
    }
    c->t.fd = -1;
    c->timeout_ms = opts->timeout_ms == 0 ? CLIENT_DEFAULT_TIMEOUT_MS : opts->timeout_ms;

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

    char err[256];
    enum rs_client_status st =
        transport_connect(&c->t, socket_path, transport_deadline(c->timeout_ms), err, sizeof(err));
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
    st = client_call(c, &hello, client_on_welcome, NULL);
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
    struct rs_msg ping;
    memset(&ping, 0, sizeof(ping));
    ping.type = RS_MSG_PING;
    enum rs_msg_type want = RS_MSG_PONG;
    return client_call(c, &ping, client_expect_type, &want);
}

/* Handle whatever input has arrived, without waiting for more. */
enum rs_client_status rs_client_process(struct rs_client *c)
{
    if (c == NULL)
        return RS_CLIENT_E_ARG;
    c->errmsg[0] = '\0';
    c->errcode[0] = '\0';
    if (c->broken)
        return client_fail(c, RS_CLIENT_E_IO, "the connection failed earlier; close the client");
    int64_t now = transport_deadline(0);
    for (;;) {
        const uint8_t *body;
        uint32_t len;
        char err[256];
        enum rs_client_status st = transport_next(&c->t, now, &body, &len, err, sizeof(err));
        if (st == RS_CLIENT_E_TIMEOUT)
            return RS_CLIENT_OK; /* nothing more has arrived yet */
        if (st != RS_CLIENT_OK)
            return client_fail(c, st, "%s", err);
        struct rs_msg m;
        if ((st = client_decode(c, &m, body, len)) != RS_CLIENT_OK)
            return st;
        bool done = false;
        st = client_route(c, &m, 0, NULL, NULL, &done);
        rs_msg_free(&m);
        if (done)
            return st;
    }
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

/* The socket, for an event loop. */
int rs_client_fd(const struct rs_client *c)
{
    return c->t.fd;
}

/* Close and free. */
void rs_client_close(struct rs_client *c)
{
    if (c == NULL)
        return;
    transport_close(&c->t);
    free(c->node);
    free(c->server);
    free(c->storage);
    free(c);
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
    }
    return "unknown status";
}
