/*
 * What a connection's messages mean: the HELLO/WELCOME handshake, PING, and the routing of
 * every other message type to its handler (or to the ERROR the protocol prescribes).
 */
#include "session.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "engine.h"
#include "log.h"
#include "server.h"
#include "stats.h"
#include "storage_identity.h"

/* Body errors tolerated on one connection before it is dropped. */
#define SESSION_MAX_BAD_BODIES 100

/* Keep a printable copy of the client's name for log lines. */
static void session_set_client_name(struct conn *c, struct rs_str name)
{
    uint32_t n = name.len < RS_MAX_CLIENT ? name.len : RS_MAX_CLIENT;
    for (uint32_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name.ptr[i];
        c->client[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    c->client[n] = '\0';
}

/* Compare the storage a client names with the daemon's; 0 when they agree. */
static int session_check_storage(struct conn *c, struct rs_str storage, char *why, size_t whylen)
{
    const struct storage_identity *ours = &c->server->storage;
    char *copy = malloc((size_t)storage.len + 1);
    if (copy == NULL) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    memcpy(copy, storage.ptr, storage.len);
    copy[storage.len] = '\0';

    struct storage_identity theirs;
    int rc = -1;
    if (strcmp(copy, STORAGE_IDENTITY_PRIVATE) == 0) {
        if (storage_identity_init_private(&theirs) != 0) {
            snprintf(why, whylen, "out of memory");
            goto out;
        }
    } else {
        char err[128];
        if (storage_identity_parse(&theirs, copy, err, sizeof(err)) != 0) {
            snprintf(why, whylen, "the storage in HELLO is %s; this daemon serves %s", err,
                     ours->display);
            goto out;
        }
    }
    if (storage_identity_equal(ours, &theirs))
        rc = 0;
    else
        snprintf(why, whylen, "the client names %s but this daemon serves %s", theirs.display,
                 ours->display);
    storage_identity_free(&theirs);
out:
    /* The copy may hold a password: wipe it before it goes back to the allocator. */
    memset(copy, 0, storage.len);
    free(copy);
    return rc;
}

/* HELLO in HANDSHAKE: check version and storage, answer WELCOME, raise the frame limit. */
static int session_on_hello(struct conn *c, const struct rs_msg *msg)
{
    const struct rs_hello *h = &msg->u.hello;
    struct server *s = c->server;
    session_set_client_name(c, h->client);
    if (h->has & RS_HAS_PID)
        log_info("conn %llu: HELLO from %s (pid %llu), protocol %llu", (unsigned long long)c->id,
                 c->client, (unsigned long long)h->pid, (unsigned long long)h->version);
    else
        log_info("conn %llu: HELLO from %s, protocol %llu", (unsigned long long)c->id, c->client,
                 (unsigned long long)h->version);

    if (h->version != RS_PROTOCOL_VERSION) {
        if (conn_send_error(c, msg->request_id, RS_E_VERSION, false,
                            "protocol version %llu is not supported; this daemon speaks %d",
                            (unsigned long long)h->version, RS_PROTOCOL_VERSION) != 0)
            return -1;
        conn_close_after_flush(c, "unsupported protocol version %llu",
                               (unsigned long long)h->version);
        return -1;
    }
    if (h->storage.ptr != NULL) {
        char why[512];
        if (session_check_storage(c, h->storage, why, sizeof(why)) != 0) {
            if (conn_send_error(c, msg->request_id, RS_E_STORAGE_MISMATCH, false, "%s", why) == 0)
                conn_close_after_flush(c, "storage mismatch: %s", why);
            return -1;
        }
    }

    struct rs_msg w;
    memset(&w, 0, sizeof(w));
    w.type = RS_MSG_WELCOME;
    w.request_id = msg->request_id;
    w.u.welcome.version = RS_PROTOCOL_VERSION;
    w.u.welcome.node = (struct rs_str){s->node_id, (uint32_t)strlen(s->node_id)};
    w.u.welcome.server = (struct rs_str){s->server_name, (uint32_t)strlen(s->server_name)};
    w.u.welcome.max_frame = s->cfg->max_frame;
    w.u.welcome.storage = (struct rs_str){s->storage.display, (uint32_t)strlen(s->storage.display)};
    if (conn_send(c, &w) != 0)
        return -1;
    conn_set_state(c, CONN_READY);
    rs_reader_set_max(&c->in, s->cfg->max_frame);
    return 0;
}

static int session_hold(struct conn *c);

/* A request the job engine serves. */
static int session_on_engine_request(struct conn *c, const struct rs_msg *msg)
{
    struct engine *e = c->server->engine;
    if (e != NULL && engine_booting(e) && msg->type != RS_MSG_REGISTER)
        return session_hold(c);
    if (e == NULL)
        return conn_send_error(c, msg->request_id, RS_E_UNAVAILABLE, true,
                               "%s: the job engine is not running", rs_msg_type_name(msg->type));
    if (engine_handle(e, c, msg) != 0 || c->closed)
        return -1;
    return 0;
}

/* The frame being handled now, so that a job request can be kept while the storage boots. */
static const uint8_t *session_body;
static uint32_t session_body_len;

/* Keep the current frame and stop reading c until the storage is ready (session_replay). */
static int session_hold(struct conn *c)
{
    c->held = malloc(session_body_len);
    if (c->held == NULL) {
        conn_close(c, "out of memory keeping a request while the storage boots");
        return -1;
    }
    memcpy(c->held, session_body, session_body_len);
    c->held_len = session_body_len;
    c->input_paused = true;
    event_del(c->ev_read);
    log_debug("conn %llu: a job request waits for the storage to be ready",
              (unsigned long long)c->id);
    return -1;
}

/* The storage is ready (or failed to boot): handle c's kept request, then read on. */
void session_replay(struct conn *c)
{
    if (c->held == NULL || c->closed)
        return;
    uint8_t *body = c->held;
    uint32_t len = c->held_len;
    c->held = NULL;
    int rc = session_handle_frame(c, body, len);
    free(body);
    if (rc == 0 && !c->closed)
        conn_resume_input(c);
}

/* Route one decoded message by state and type; -1 when the connection is closing. */
static int session_dispatch(struct conn *c, const struct rs_msg *msg)
{
    if (c->state == CONN_HANDSHAKE) {
        if (msg->type == RS_MSG_HELLO)
            return session_on_hello(c, msg);
        if (conn_send_error(c, msg->request_id, RS_E_HANDSHAKE, false,
                            "%s before HELLO: the first message must be HELLO",
                            rs_msg_type_name(msg->type)) == 0)
            conn_close_after_flush(c, "%s before HELLO", rs_msg_type_name(msg->type));
        return -1;
    }

    switch (msg->type) {
    case RS_MSG_HELLO:
        if (conn_send_error(c, msg->request_id, RS_E_HANDSHAKE, false,
                            "HELLO was already received on this connection") == 0)
            conn_close_after_flush(c, "second HELLO");
        return -1;
    case RS_MSG_PING: {
        struct rs_msg pong;
        memset(&pong, 0, sizeof(pong));
        pong.type = RS_MSG_PONG;
        pong.request_id = msg->request_id;
        return conn_send(c, &pong);
    }
    case RS_MSG_ENQUEUE:
    case RS_MSG_REGISTER:
    case RS_MSG_ACK:
    case RS_MSG_AWAIT:
    case RS_MSG_GET:
    case RS_MSG_CANCEL:
    case RS_MSG_RETRY:
    case RS_MSG_LIST:
    case RS_MSG_SCHEDULE_PUT:
    case RS_MSG_SCHEDULE_GET:
    case RS_MSG_SCHEDULE_PAUSE:
    case RS_MSG_SCHEDULE_RESUME:
    case RS_MSG_SCHEDULE_DELETE:
    case RS_MSG_SCHEDULE_LIST:
        return session_on_engine_request(c, msg);
    case RS_MSG_STATS:
        return stats_request(c, msg);
    case RS_MSG_WELCOME:
    case RS_MSG_ERROR:
    case RS_MSG_PONG:
    case RS_MSG_OK:
    case RS_MSG_ENQUEUED:
    case RS_MSG_DISPATCH:
    case RS_MSG_ABANDON:
    case RS_MSG_COMPLETED:
    case RS_MSG_JOB:
    case RS_MSG_JOBS:
    case RS_MSG_SCHEDULE:
    case RS_MSG_SCHEDULES:
    case RS_MSG_STATISTICS:
        return conn_send_error(c, msg->request_id, RS_E_UNEXPECTED, false,
                               "%s is sent by the daemon, never to it",
                               rs_msg_type_name(msg->type));
    }
    return conn_send_error(c, msg->request_id, RS_E_UNKNOWN_TYPE, false,
                           "message type %d is not known", (int)msg->type);
}

/* Decode one body; a body error is answered and the connection stays. */
int session_handle_frame(struct conn *c, const uint8_t *body, uint32_t len)
{
    struct rs_limits lim;
    struct rs_error err;
    struct rs_msg msg;
    rs_limits_default(&lim);
    memset(&msg, 0, sizeof(msg));
    enum rs_code rc = rs_msg_decode(&msg, body, len, &lim, &err);
    if (rc != RS_OK) {
        /* The decoder leaves the request id in msg when it could read it, else 0. */
        log_debug("conn %llu: bad body (%u bytes): %s", (unsigned long long)c->id, len,
                  err.message);
        if (conn_send_error(c, msg.request_id, rc, false, "%s", err.message) != 0)
            return -1;
        if (++c->bad_bodies > SESSION_MAX_BAD_BODIES) {
            conn_close_after_flush(c, "more than %d malformed messages", SESSION_MAX_BAD_BODIES);
            return -1;
        }
        return 0;
    }
    session_body = body;
    session_body_len = len;
    int rc_dispatch = session_dispatch(c, &msg);
    rs_msg_free(&msg);
    return rc_dispatch;
}
