/*
 * A small test-only protocol client for the engine tests: one connection, requests sent with
 * fresh request ids, replies matched by id, DISPATCH/ABANDON kept until asked for. Blocking,
 * every wait bounded in time. Built on tests/integration/wire.c.
 */
#include "client.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Monotonic ms. */
int64_t ec_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connect and handshake. */
int ec_open(struct ec *c, const char *socket)
{
    memset(c, 0, sizeof(*c));
    c->next_rid = 100;
    c->fd = wire_connect(socket);
    if (c->fd < 0)
        return -1;
    if (wire_handshake(c->fd) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

/* Close and drop what is queued. */
void ec_close(struct ec *c)
{
    for (int i = 0; i < c->nqueued; i++)
        wire_reply_free(&c->queued[i]);
    c->nqueued = 0;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* Send with a fresh id. */
uint32_t ec_send(struct ec *c, struct rs_msg *m)
{
    m->request_id = c->next_rid++;
    return wire_send_msg(c->fd, m) == 0 ? m->request_id : 0;
}

/* Take the first queued message that matches (rid, or type with rid 0). */
static bool ec_take(struct ec *c, bool by_rid, uint32_t rid, enum rs_msg_type type,
                    struct wire_reply *out)
{
    for (int i = 0; i < c->nqueued; i++) {
        const struct rs_msg *m = &c->queued[i].msg;
        if (by_rid ? m->request_id == rid : (m->type == type && m->request_id == 0)) {
            *out = c->queued[i];
            memmove(&c->queued[i], &c->queued[i + 1], (size_t)(c->nqueued - i - 1) * sizeof(*out));
            c->nqueued--;
            return true;
        }
    }
    return false;
}

/* Wait for a matching message, queueing the others. */
static int ec_wait(struct ec *c, bool by_rid, uint32_t rid, enum rs_msg_type type, int timeout_ms,
                   struct wire_reply *out)
{
    int64_t end = ec_now_ms() + timeout_ms;
    for (;;) {
        if (ec_take(c, by_rid, rid, type, out))
            return 0;
        int64_t left = end - ec_now_ms();
        if (left <= 0 || c->nqueued == EC_MAX_QUEUED)
            return -1;
        struct wire_reply r;
        if (wire_recv(c->fd, (int)left, &r) != 1)
            return -1;
        c->queued[c->nqueued++] = r;
    }
}

/* The reply to rid. */
int ec_reply(struct ec *c, uint32_t rid, int timeout_ms, struct wire_reply *out)
{
    return ec_wait(c, true, rid, 0, timeout_ms, out);
}

/* The next unsolicited message of type. */
int ec_next(struct ec *c, enum rs_msg_type type, int timeout_ms, struct wire_reply *out)
{
    return ec_wait(c, false, 0, type, timeout_ms, out);
}

/* True when nothing of type arrives within ms. */
bool ec_none(struct ec *c, enum rs_msg_type type, int ms)
{
    struct wire_reply r;
    if (ec_next(c, type, ms, &r) != 0)
        return true;
    /* Put it back for whoever asks next. */
    memmove(&c->queued[1], &c->queued[0], (size_t)c->nqueued * sizeof(r));
    c->queued[0] = r;
    c->nqueued++;
    return false;
}

/* The ERROR code of r. */
const char *ec_code(const struct wire_reply *r, char *buf, size_t size)
{
    buf[0] = '\0';
    if (r->msg.type == RS_MSG_ERROR)
        snprintf(buf, size, "%.*s", (int)r->msg.u.error.code.len, r->msg.u.error.code.ptr);
    return buf;
}

/* ENQUEUE and wait for ENQUEUED. */
int64_t ec_enqueue(struct ec *c, struct rs_enqueue *e, bool *dedup, char *err, size_t errlen)
{
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_ENQUEUE;
    m.u.enqueue = *e;
    uint32_t rid = ec_send(c, &m);
    struct wire_reply r;
    if (rid == 0 || ec_reply(c, rid, WIRE_TIMEOUT_MS, &r) != 0)
        return -1;
    int64_t id = -1;
    if (r.msg.type == RS_MSG_ENQUEUED) {
        id = (int64_t)r.msg.u.enqueued.job;
        if (dedup != NULL)
            *dedup = r.msg.u.enqueued.deduplicated;
    } else if (err != NULL) {
        ec_code(&r, err, errlen);
    }
    wire_reply_free(&r);
    return id;
}

/* ENQUEUE with defaults. */
int64_t ec_enqueue_name(struct ec *c, const char *name)
{
    struct rs_enqueue e;
    memset(&e, 0, sizeof(e));
    e.name = (struct rs_str){name, (uint32_t)strlen(name)};
    e.args = (struct rs_bytes){(const uint8_t *)"x", 1};
    return ec_enqueue(c, &e, NULL, NULL, 0);
}

/* REGISTER one name. */
int ec_register(struct ec *c, const char *name, uint32_t concurrency)
{
    struct rs_str names[1] = {{name, (uint32_t)strlen(name)}};
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_REGISTER;
    m.u.reg.names = names;
    m.u.reg.nnames = 1;
    m.u.reg.concurrency = concurrency;
    uint32_t rid = ec_send(c, &m);
    struct wire_reply r;
    if (rid == 0 || ec_reply(c, rid, WIRE_TIMEOUT_MS, &r) != 0)
        return -1;
    int rc = r.msg.type == RS_MSG_OK ? 0 : -1;
    wire_reply_free(&r);
    return rc;
}

/* Send the ACK m and wait for OK (0) or ERROR (-1, its code in err if given). */
static int ec_ack_send(struct ec *c, struct rs_msg *m, char *err, size_t errlen)
{
    uint32_t rid = ec_send(c, m);
    struct wire_reply r;
    if (rid == 0 || ec_reply(c, rid, WIRE_TIMEOUT_MS, &r) != 0) {
        if (err != NULL)
            snprintf(err, errlen, "no reply");
        return -1;
    }
    int rc = r.msg.type == RS_MSG_OK ? 0 : -1;
    if (rc != 0 && err != NULL)
        ec_code(&r, err, errlen);
    wire_reply_free(&r);
    return rc;
}

/* ACK and wait for OK or ERROR. */
int ec_ack(struct ec *c, uint64_t job, uint64_t attempt, bool ok, const char *text, bool retryable,
           char *err, size_t errlen)
{
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_ACK;
    m.u.ack.job = job;
    m.u.ack.attempt = attempt;
    m.u.ack.ok = ok;
    if (ok && text != NULL)
        m.u.ack.result = (struct rs_bytes){(const uint8_t *)text, (uint32_t)strlen(text)};
    if (!ok && text != NULL)
        m.u.ack.error = (struct rs_str){text, (uint32_t)strlen(text)};
    if (!ok) {
        m.u.ack.has |= RS_HAS_RETRYABLE;
        m.u.ack.retryable = retryable;
    }
    return ec_ack_send(c, &m, err, errlen);
}

/* ACK release and wait for OK or ERROR. */
int ec_release(struct ec *c, uint64_t job, uint64_t attempt, char *err, size_t errlen)
{
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_ACK;
    m.u.ack.job = job;
    m.u.ack.attempt = attempt;
    m.u.ack.has = RS_HAS_RELEASE;
    m.u.ack.release = true;
    return ec_ack_send(c, &m, err, errlen);
}

/* One request with a job field. */
int ec_call(struct ec *c, enum rs_msg_type type, uint64_t job, int timeout_ms,
            struct wire_reply *out)
{
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.u.ref.job = job;
    uint32_t rid = ec_send(c, &m);
    if (rid == 0)
        return -1;
    return ec_reply(c, rid, timeout_ms, out);
}
