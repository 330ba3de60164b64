/*
 * One client connection: its state machine, the frame reader fed straight from the socket,
 * a bounded output queue, and the single exit point conn_close.
 */
#ifndef RESEOLIOD_CONN_H
#define RESEOLIOD_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "reseolio/buf.h"
#include "reseolio/frame.h"
#include "reseolio/msg.h"
#include "reseolio/proto.h"
#include "request.h"

struct server;
struct event;
struct worker;
struct waiter;

/* Changes only through conn_set_state; a connection never goes back. */
enum conn_state {
    CONN_HANDSHAKE = 0, /* waiting for HELLO; frames limited to RS_MAX_FRAME_PREHELLO */
    CONN_READY,         /* WELCOME sent; requests served */
    CONN_CLOSING,       /* no more input read; output flushed, then conn_close */
};
/* A peer that shuts only its sending side (shutdown(SHUT_WR)) while requests or AWAITs of its
 * are unanswered stays READY, reading nothing, until those replies are queued; then it closes
 * after the flush as any peer at end of input. A worker at end of input closes at once: it
 * can no longer ACK. */

/*
 * Owner: the server (its list of connections). Freed only by the server's reaper after
 * conn_close, never inside one of the connection's own callbacks.
 */
struct conn {
    TAILQ_ENTRY(conn) link; /* in server.conns while open, server.dead after conn_close */
    struct server *server;  /* not owned */
    uint64_t id;            /* for logs: "conn 12" */
    int fd;                 /* -1 after conn_close */
    struct ucred peer;      /* read once at accept */
    enum conn_state state;
    bool closed;      /* conn_close ran; waiting for the reaper */
    bool peer_eof;    /* the peer shut its sending side: no more input */
    bool peer_gone;   /* ... and its receiving side too (closed): nobody reads our replies */
    bool half_closed; /* at end of input, waiting to send the replies still owed */
    struct event *ev_read;
    struct event *ev_write; /* armed only while output is queued */
    struct event *ev_more;  /* activated to go on with input after the per-wake cap */
    struct event *ev_timer; /* bounds the time HANDSHAKE and CLOSING may take */
    struct rs_reader in;
    struct rs_buf out; /* limit: conn_out_cap(); a client that lets it fill is dropped */
    uint32_t bad_bodies;
    bool input_paused; /* too many requests outstanding: not reading until some end */
    uint8_t *held;     /* a job request kept while the storage boots; owned */
    uint32_t held_len;
    struct request_list requests;   /* answered later; not owned (see request.h) */
    uint32_t nrequests;             /* length of requests */
    struct worker *worker;          /* owned by the scheduler; NULL until REGISTER */
    TAILQ_HEAD(, waiter) waiters;   /* its AWAITs; owned by waiters.c */
    uint32_t nwaiters;              /* length of waiters */
    char close_reason[160];         /* why CLOSING began, logged by conn_close */
    char client[RS_MAX_CLIENT + 1]; /* HELLO's client name, printable, for logs */
};

/*
 * Start serving fd (non-blocking, owned by the connection from now on, closed on failure).
 * Returns the connection, already in server.conns, or NULL (logged).
 */
struct conn *conn_new(struct server *s, int fd, const struct ucred *peer);

/* Move to a later state (HANDSHAKE → READY → CLOSING); logged at debug level. */
void conn_set_state(struct conn *c, enum conn_state state);

/*
 * Queue one message. Returns 0, or -1 when the connection was dropped because its output
 * queue is over the cap (the client does not read) or memory ran out; then the caller
 * must not touch the connection any more except to read c->closed.
 */
int conn_send(struct conn *c, const struct rs_msg *msg) __attribute__((warn_unused_result));

/* Queue ERROR {code, message, retryable} for request_id; same result as conn_send. */
int conn_send_error(struct conn *c, uint32_t request_id, enum rs_code code, bool retryable,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)))
__attribute__((warn_unused_result));

/* Go on reading after the input was paused for too many outstanding requests. */
void conn_resume_input(struct conn *c);

/* Stop reading, flush what is queued (bounded in time), then conn_close with the reason. */
void conn_close_after_flush(struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * The one exit point: log the reason, stop every event, close the socket and hand the
 * connection to the server's reaper. Safe to call more than once and inside callbacks.
 */
void conn_close(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Release everything; only the server's reaper calls this, after conn_close. */
void conn_free(struct conn *c);

#endif
