/*
 * The job engine: the store connections (work and LISTEN), the node's heartbeat, the routing
 * of job requests to the batchers, scheduler and waiters, wake-ups from NOTIFY, and the
 * graceful stop. docs/architecture.md describes the whole flow.
 */
#ifndef RESEOLIOD_ENGINE_H
#define RESEOLIOD_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reseolio/msg.h"

struct conn;
struct event;
struct event_base;
struct pgconn;
struct server;
struct enqueuer;
struct completer;
struct scheduler;
struct schedtimer;
struct waiters;
struct gauges;
struct jobstore_err;
struct boot;

#define ENGINE_MUST_CHECK __attribute__((warn_unused_result))

/* Defaults of the heartbeat and safety sweep period (claims, expiry and reclaim missed by the
 * wake-ups), and of the lease: a node whose heartbeat is older loses its running jobs to any
 * other daemon. Both are settings (--heartbeat-ms, --lease-ms). */
#define ENGINE_SWEEP_MS      5000
#define ENGINE_NODE_LAPSE_MS 30000
/* Another node's attempt past its deadline by this much is expired by us. */
#define ENGINE_EXPIRE_GRACE_MS 10000
/* Rows one expire or reclaim statement moves at most. */
#define ENGINE_MOVE_LIMIT 1000
/* Finished jobs one retention statement deletes at most; a full batch is followed at once by
 * the next, so the pruner keeps up with any completion rate one statement at a time. */
#define ENGINE_PRUNE_BATCH 5000

/* What the engine needs to start; strings are copied. */
struct engine_opts {
    const char *storage;   /* NULL: the private cluster; may hold a password: never logged */
    const char *state_dir; /* the private cluster's home, NULL: the default */
    const char *display;   /* the storage without password, for logs */
    const char *schema;
    const char *node_hex;       /* the node id, 32 hex digits */
    uint32_t shutdown_grace_ms; /* running jobs get this long to ACK when stopping */
    uint32_t heartbeat_ms;      /* 0: ENGINE_SWEEP_MS */
    uint32_t lease_ms;          /* 0: ENGINE_NODE_LAPSE_MS */
    uint32_t unavailable_ms;    /* 0: no bound on waiting for a PostgreSQL session */
    uint32_t retention_s;       /* finished jobs deleted this long after; 0: never */
    uint32_t vacuum_warn_s;     /* warn of a snapshot held this long; 0: never */
};

/* Owner: the server (server.engine); release with engine_free. */
struct engine {
    struct event_base *base; /* not owned */
    struct server *server;   /* not owned */
    struct boot *boot;       /* private cluster + migrations, in a thread; owned */
    struct pgconn *db;       /* every statement; owned; NULL until the boot is done */
    struct pgconn *listen;   /* LISTEN on the schema's channel; owned */
    char *schema;            /* owned copy */
    uint8_t node[16];        /* this daemon's node id, the owner of its leases */
    char node_hex[33];
    char host[256];
    uint32_t shutdown_grace_ms;
    uint32_t sweep_ms;             /* heartbeat and sweep period */
    uint32_t lapse_ms;             /* the lease: a node silent this long is reclaimed */
    uint32_t unavailable_ms;       /* bound on a request's wait for a PostgreSQL session */
    uint32_t retention_s;          /* finished jobs deleted this long after; 0: never */
    bool pruning;                  /* a retention statement is in flight */
    uint32_t vacuum_warn_s;        /* warn of a snapshot held this long; 0: never */
    bool snapshot_asking;          /* the oldest-snapshot look-up is in flight */
    uint64_t snapshot_warned_ms;   /* when the last warning was logged (engine_now_ms) */
    uint64_t pruned;               /* finished jobs this daemon deleted (retention) */
    struct enqueuer *enqueuer;     /* owned */
    struct completer *completer;   /* owned */
    struct scheduler *scheduler;   /* owned */
    struct waiters *waiters;       /* owned */
    struct schedtimer *schedtimer; /* cron schedules' timer; owned */
    struct gauges *gauges;         /* queue depth and nodes for metrics and STATS; owned */
    struct event *ev_sweep;        /* heartbeat + safety sweep, every sweep_ms */
    struct event *ev_outage;       /* the work session is down: fail waiting requests */
    bool outage;                   /* the session has been down longer than unavailable_ms */
    struct event *ev_stop;         /* the end of the shutdown grace, then a hard deadline */
    bool db_ready_once;            /* the work connection was set up at least once */
    bool boot_failed;              /* a boot attempt failed: answer "unavailable", do not wait */
    bool stopping;                 /* engine_stop ran: no claims */
    int stop_phase;                /* 0 running, 1 grace, 2 releasing, 3 done */
    void (*on_stopped)(void *arg);
    void *on_stopped_arg;
};

/* Start the storage boot (a thread); when it is done, connect (asynchronously) and start the
 * heartbeat and sweep. Until then job requests are answered "unavailable" (retryable) and
 * REGISTER is kept. Returns 0, or -1 with err. */
ENGINE_MUST_CHECK int engine_new(struct engine **out, struct server *s,
                                 const struct engine_opts *opts, char *err, size_t errlen);

/* Serve one job request (ENQUEUE, REGISTER, ACK, AWAIT, GET, CANCEL, RETRY, LIST, SCHEDULE_*) of c.
 * Returns 0, or -1 when c was closed meanwhile. */
ENGINE_MUST_CHECK int engine_handle(struct engine *e, struct conn *c, const struct rs_msg *msg);

/* c closes: release its running jobs, drop its waiters and outstanding replies. */
void engine_conn_closed(struct engine *e, struct conn *c);

/* Graceful stop: stop claiming, give running jobs the grace to ACK, release the rest, answer
 * waiters with shutting_down, remove the node row; then on_stopped(arg). */
void engine_stop(struct engine *e, void (*on_stopped)(void *arg), void *arg);

/* True while the first storage boot is in progress: job requests wait (session.c keeps them). */
bool engine_booting(const struct engine *e);

/* Stopping, the last running attempt ended: the grace may end early. */
void engine_stop_check(struct engine *e);

/* Release everything (after the loop stopped). */
void engine_free(struct engine *e);

/* Milliseconds since the Unix epoch, from the wall clock. */
int64_t engine_now_ms(void);

/* Answer request rid on c with the ERROR a store failure deserves. Returns conn_send's result. */
ENGINE_MUST_CHECK int engine_reply_store_error(struct conn *c, uint32_t rid, const char *what,
                                               const struct jobstore_err *err);

/* Answer request rid on c with the ERROR a refused submit deserves (queue full, closed). */
ENGINE_MUST_CHECK int engine_reply_submit_error(struct conn *c, uint32_t rid, const char *what,
                                                int pgconn_status);

#endif
