/*
 * A small test-only protocol client for the engine tests: one connection, requests sent with
 * fresh request ids, replies matched by id, DISPATCH/ABANDON kept until asked for. Blocking,
 * every wait bounded in time. Built on tests/integration/wire.c.
 */
#ifndef RESEOLIO_TEST_ENGINE_CLIENT_H
#define RESEOLIO_TEST_ENGINE_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "wire.h"

/* Messages received and not yet asked for, at most. */
#define EC_MAX_QUEUED 512

/* Owner: the test; release with ec_close. */
struct ec {
    int fd;
    uint32_t next_rid;
    struct wire_reply queued[EC_MAX_QUEUED]; /* received, not yet taken */
    int nqueued;
};

/* Connect to socket and do the handshake. Returns 0 or -1. */
int ec_open(struct ec *c, const char *socket);
void ec_close(struct ec *c);

/* Send m with a fresh request id (written into m); returns the id, 0 on failure. */
uint32_t ec_send(struct ec *c, struct rs_msg *m);

/* Wait for the reply to rid. Returns 0 with *out filled (free it), -1 on timeout or close. */
int ec_reply(struct ec *c, uint32_t rid, int timeout_ms, struct wire_reply *out);

/* Wait for an unsolicited message of type (DISPATCH, ABANDON). Returns 0 or -1. */
int ec_next(struct ec *c, enum rs_msg_type type, int timeout_ms, struct wire_reply *out);

/* True when no message of type arrives within ms (others are kept). */
bool ec_none(struct ec *c, enum rs_msg_type type, int ms);

/* ENQUEUE e (name set by the caller) and wait: returns the job id, or -1 (ERROR code in
 * err if given). */
int64_t ec_enqueue(struct ec *c, struct rs_enqueue *e, bool *dedup, char *err, size_t errlen);
/* ENQUEUE name with defaults and args "x". */
int64_t ec_enqueue_name(struct ec *c, const char *name);

/* REGISTER one name with a concurrency; 0 when OK. */
int ec_register(struct ec *c, const char *name, uint32_t concurrency);

/* ACK; returns 0 for OK, else copies the ERROR code into err (if given) and returns -1. */
int ec_ack(struct ec *c, uint64_t job, uint64_t attempt, bool ok, const char *text, bool retryable,
           char *err, size_t errlen);

/* ACK release (hand the attempt back, not counted); as ec_ack. */
int ec_release(struct ec *c, uint64_t job, uint64_t attempt, char *err, size_t errlen);

/* Send a GET/CANCEL/RETRY/AWAIT (type) for job and wait for the reply. */
int ec_call(struct ec *c, enum rs_msg_type type, uint64_t job, int timeout_ms,
            struct wire_reply *out);

/* The ERROR code of r as a C string in buf, or "" when r is not an ERROR. */
const char *ec_code(const struct wire_reply *r, char *buf, size_t size);

/* Milliseconds on the monotonic clock. */
int64_t ec_now_ms(void);

#endif
