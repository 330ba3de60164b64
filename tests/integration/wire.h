/*
 * Raw protocol access for tests that must send what no real client would: bare frames,
 * bad lengths and bodies, messages out of order. Blocking, each read bounded in time.
 */
#ifndef RESEOLIO_TEST_WIRE_H
#define RESEOLIO_TEST_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "reseolio/msg.h"

/* Bound on every read of a test, in ms. */
#define WIRE_TIMEOUT_MS 10000

/* A received message and the body it points into. Release with wire_reply_free. */
struct wire_reply {
    struct rs_msg msg;
    uint8_t *body;
};

/* Connect to a Unix socket; returns the fd or -1. */
int wire_connect(const char *path);
/* Write all bytes; returns 0, or -1 (the peer closed, ...). */
int wire_send_raw(int fd, const void *p, size_t n);
/* Write a 4-byte big-endian length and then body. */
int wire_send_frame(int fd, const void *body, uint32_t len);
/* Encode and write a message. */
int wire_send_msg(int fd, const struct rs_msg *m);
/* Send HELLO {version, client "wire-test", storage if not NULL} with request id rid. */
int wire_send_hello(int fd, uint32_t rid, uint64_t version, const char *storage);
/* Send a message that has no fields (PING, ...) with request id rid. */
int wire_send_empty(int fd, enum rs_msg_type type, uint32_t rid);
/* HELLO and wait for WELCOME; returns 0, or -1. */
int wire_handshake(int fd);

/*
 * Read and decode one frame within timeout_ms. Returns 1 with *r filled, 0 when the peer
 * closed the connection first, -1 on a timeout or an undecodable frame.
 */
int wire_recv(int fd, int timeout_ms, struct wire_reply *r);
void wire_reply_free(struct wire_reply *r);

/* True when r is ERROR with this code. */
bool wire_is_error(const struct wire_reply *r, const char *code);
/* Read one message, expect ERROR code for request rid; true when it is. */
bool wire_expect_error(int fd, const char *code, uint32_t rid);
/* The same, for errors whose request id the decoder may or may not have read. */
bool wire_expect_error_code(int fd, const char *code);
/* True when the peer closes the connection within timeout_ms (pending messages are skipped). */
bool wire_closed(int fd, int timeout_ms);

/* What a child connecting as another user saw (wire_try_as). */
enum wire_seen {
    WIRE_SEEN_WELCOME = 0, /* served: HELLO was answered by WELCOME */
    WIRE_SEEN_CLOSED = 1,  /* closed by the daemon without a frame */
    WIRE_SEEN_OTHER = -1,  /* neither, or the child could not become that user or connect */
};
/*
 * Fork a child that takes the supplementary groups (n), primary gid and uid (needs root),
 * connects to path and says HELLO; returns what it saw. status (may be NULL) receives the
 * child's wait status, for the failure message.
 */
enum wire_seen wire_try_as(const char *path, uid_t uid, gid_t gid, const gid_t *groups, size_t n,
                           int *status);

#endif
