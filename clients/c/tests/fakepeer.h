/*
 * A fake reseoliod for unit tests of libreseolio: it listens on a private socket, answers the
 * handshake, then a test's script (on its own thread) plays the daemon's side message by
 * message, so that replies can come out of order, late, wrong, or not at all.
 */
#ifndef RESEOLIO_CLIENT_TEST_FAKEPEER_H
#define RESEOLIO_CLIENT_TEST_FAKEPEER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "reseolio/frame.h"
#include "reseolio/msg.h"

/* Bound on every wait of a script, in ms. */
#define FP_TIMEOUT_MS 10000

struct fakepeer;
typedef void (*fp_script)(struct fakepeer *p, void *arg);

/* Owner: the test; fp_finish releases it. */
struct fakepeer {
    char dir[64];
    char path[108];
    int lfd; /* listening socket */
    int fd;  /* the client's connection, -1 before accept and after close */
    struct rs_reader in;
    fp_script script;
    void *arg;
    pthread_t thread;
    bool ok;           /* false once a check of the script failed */
    bool may_be_gone;  /* a send to a client that closed is not a failure */
    char failure[512]; /* the first failed check */
};

/* A message the client sent, with the body it points into. Release with fp_msg_free. */
struct fp_msg {
    struct rs_msg m;
    uint8_t *body;
};

/* Listen, then run script on a thread once the client's HELLO is answered. Returns 0 or -1. */
int fp_start(struct fakepeer *p, fp_script script, void *arg);

/* Join the script's thread, close everything, remove the socket. Returns p->ok. */
bool fp_finish(struct fakepeer *p);

/* Record a failed check (the first one is kept); returns cond. */
bool fp_check(struct fakepeer *p, bool cond, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Read the next message within FP_TIMEOUT_MS. Returns 1, 0 when the client closed, -1. */
int fp_recv(struct fakepeer *p, struct fp_msg *out);

/* Read the next message and check its type; false (recorded) otherwise. */
bool fp_expect(struct fakepeer *p, enum rs_msg_type type, struct fp_msg *out);

void fp_msg_free(struct fp_msg *m);

/* Encode and send m. */
bool fp_send(struct fakepeer *p, const struct rs_msg *m);

/* Replies and unsolicited messages, with request id rid. */
bool fp_send_empty(struct fakepeer *p, enum rs_msg_type type, uint32_t rid);
bool fp_send_error(struct fakepeer *p, uint32_t rid, const char *code, const char *message,
                   bool retryable);
bool fp_send_job(struct fakepeer *p, uint32_t rid, uint64_t job, const char *name,
                 enum rs_status status);
bool fp_send_enqueued(struct fakepeer *p, uint32_t rid, uint64_t job, bool dedup);
bool fp_send_dispatch(struct fakepeer *p, uint64_t job, const char *name, const void *args,
                      uint32_t args_len, uint64_t attempt);
bool fp_send_abandon(struct fakepeer *p, uint64_t job, uint64_t attempt);

/* True when the client closes the connection within FP_TIMEOUT_MS (messages are skipped). */
bool fp_wait_closed(struct fakepeer *p);

/* Close the connection from the daemon's side. */
void fp_hangup(struct fakepeer *p);

#endif
