/*
 * What the modules of libreseolio share and applications never see: the client struct, the
 * request machinery every call is built on, and the reply a callback is given.
 */
#ifndef RESEOLIO_CLIENT_INTERNAL_H
#define RESEOLIO_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pending.h"
#include "reseolio.h"
#include "reseolio/msg.h"
#include "transport.h"

#define CLIENT_FORMAT(f, a) __attribute__((format(printf, f, a)))
#define CLIENT_MUST_CHECK   __attribute__((warn_unused_result))

/* Which request an entry of the pending table is, hence which reply it expects. */
enum call_kind {
    CALL_HELLO = 1,       /* WELCOME */
    CALL_PING,            /* PONG */
    CALL_ENQUEUE,         /* ENQUEUED */
    CALL_AWAIT,           /* COMPLETED */
    CALL_GET,             /* JOB */
    CALL_CANCEL,          /* JOB */
    CALL_RETRY,           /* JOB */
    CALL_LIST,            /* JOBS */
    CALL_REGISTER,        /* OK */
    CALL_ACK,             /* OK */
    CALL_SCHEDULE,        /* SCHEDULE: SCHEDULE_PUT, _GET, _PAUSE, _RESUME */
    CALL_SCHEDULES,       /* SCHEDULES */
    CALL_SCHEDULE_DELETE, /* OK */
    CALL_STATS,           /* STATISTICS */
};

/*
 * A reply as a callback gets it: the public part first (callbacks see &pub), and the storage
 * pub points into. The owned pointers are freed by reply_clear unless a taker moved them out.
 */
struct client_reply {
    struct rs_reply pub;
    struct rs_enqueue_result enqueued;
    struct rs_completion *completion;
    struct rs_job_info *job;
    struct rs_job_list *list;
    struct rs_schedule_info *schedule;
    struct rs_schedule_page *schedules;
    struct rs_stats *stats;
    bool done; /* set when a blocking call's reply arrived */
    char error[512];
    char code[32];
};

struct worker;

/* Owner: the application, from rs_client_connect to rs_client_close. */
struct rs_client {
    struct transport t;
    int timeout_ms;
    size_t max_output; /* bytes queued for the daemon, at most (t.out.limit between encodes) */
    struct pending_table pending;

    bool broken; /* the session ended: every call fails */
    enum rs_client_status broken_st;
    char broken_msg[384];
    char broken_code[32]; /* the daemon's code when an ERROR ended it, else "" */
    bool write_failed;    /* a write failed: reading will tell why, or the next io breaks */
    char write_err[256];

    unsigned depth; /* callbacks running now, nested */
    bool closing;   /* rs_client_close was called while depth > 0: free when it is 0 */

    struct rs_client_welcome welcome; /* strings below are owned, the struct points at them */
    char *node;
    char *server;
    char *storage;

    char errmsg[512];
    char errcode[32]; /* wire code of the last ERROR reply, "" when the last failure was not */
    bool retryable;

    struct worker *worker; /* NULL until rs_worker_register; owned */
};

/* ---- client.c: the session ---- */

/* Record why a call failed and return st (the session goes on). */
enum rs_client_status client_fail(struct rs_client *c, enum rs_client_status st, const char *fmt,
                                  ...) CLIENT_FORMAT(3, 4);

/* Start of every public call: clear the last error; fail when closing or broken. */
enum rs_client_status client_begin(struct rs_client *c) CLIENT_MUST_CHECK;

/* End of every public call that may run callbacks: do a deferred close (then E_CLOSED). */
enum rs_client_status client_finish(struct rs_client *c,
                                    enum rs_client_status st) CLIENT_MUST_CHECK;

/*
 * End the session: every call fails from now on and every pending callback runs with st,
 * message and (for an ERROR from the daemon) code.
 */
void client_break(struct rs_client *c, enum rs_client_status st, const char *code, const char *fmt,
                  ...) CLIENT_FORMAT(4, 5);

/* The failure that ended the session (status, message, code) as the last error. */
enum rs_client_status client_broken_status(struct rs_client *c);

/*
 * Encode req with a fresh request id, queue it, and remember that cb takes its reply. Never
 * runs a callback. On success *id is the request id.
 */
enum rs_client_status client_submit(struct rs_client *c, struct rs_msg *req, enum call_kind kind,
                                    rs_reply_cb cb, void *arg, uint32_t *id) CLIENT_MUST_CHECK;

/* Submit req and wait (poll loop) until its reply arrives or deadline passes. */
enum rs_client_status client_call(struct rs_client *c, struct rs_msg *req, enum call_kind kind,
                                  int64_t deadline, struct client_reply *out) CLIENT_MUST_CHECK;

/* The deadline of an ordinary blocking call. */
int64_t client_deadline(const struct rs_client *c);

/* Read, route and write whatever is ready, without waiting; revents as rs_client_process. */
void client_io(struct rs_client *c, int revents);

/* The poll(2) events to wait for on the socket. */
short client_poll_events(const struct rs_client *c);

/* Run cb with r, guarding against the client being closed inside it. */
void client_deliver(struct rs_client *c, rs_reply_cb cb, void *arg, struct client_reply *r);

/* ---- jobs.c: replies and the owned job structs ---- */

/* An empty reply: status OK, nothing set. */
void reply_init(struct client_reply *r);

/* A failed reply. */
void reply_set_failure(struct client_reply *r, enum rs_client_status st, const char *code,
                       bool retryable, const char *msg);

/* Turn the daemon's ERROR to a request of kind into r. */
void reply_from_error(struct client_reply *r, enum call_kind kind, const struct rs_error_msg *e);

/*
 * Turn the reply m to a job request of kind into r with owned copies. Returns RS_CLIENT_OK,
 * RS_CLIENT_E_PROTOCOL (m is not the reply kind expects; r says so) or RS_CLIENT_E_NOMEM.
 */
/* The options of ENQUEUE, checked, into e (calls.c). */
enum rs_client_status calls_enqueue_opts(struct rs_client *c, struct rs_enqueue *e,
                                         const struct rs_enqueue_opts *o) CLIENT_MUST_CHECK;

/* AWAIT job, as the attempt (waiter, attempt) of a running job when waiter != 0. */
enum rs_client_status calls_await(struct rs_client *c, uint64_t job, int64_t timeout_ms,
                                  uint64_t waiter, uint64_t attempt, struct rs_completion **out);

/* SCHEDULE and SCHEDULES into r (schedules.c); 0, or -1 out of memory. */
int schedules_reply(struct client_reply *r, enum call_kind kind, const struct rs_msg *m);

/* ---- stats.c ---- */

/* STATISTICS into r->stats, owned copies. 0, or -1 out of memory (reply_clear frees it). */
int stats_reply(struct client_reply *r, const struct rs_statistics *m);

enum rs_client_status reply_from_msg(struct client_reply *r, enum call_kind kind,
                                     const struct rs_msg *m);

/* Move src's content (and ownership) into dst. */
void reply_move(struct client_reply *dst, struct client_reply *src);

/* Free what r still owns. */
void reply_clear(struct client_reply *r);

/* ---- worker.c ---- */

/* A DISPATCH arrived: queue the job for the worker. Fails (breaks the session) if illegal. */
enum rs_client_status worker_on_dispatch(struct rs_client *c,
                                         const struct rs_dispatch *d) CLIENT_MUST_CHECK;

/* An ABANDON arrived: mark the attempt cancelled, or drop it if it has not started. */
void worker_on_abandon(struct rs_client *c, const struct rs_abandon *a);

/* Free the worker of a client that is being destroyed (no threads run then). */
void worker_free(struct worker *w);

#endif
