/*
 * pgconn: one asynchronous PostgreSQL connection driven by a libevent base, in pipeline mode.
 * Work is submitted as batches of prepared statements; a batch is one transaction.
 *
 * Life of a connection: connecting (PQconnectPoll, one-shot events, PQsocket() re-read before
 * every wait) -> setup (search_path, isolation level, PREPARE of every statement, LISTEN of
 * every channel, as one pipelined batch) -> ready -> lost -> reconnect after a backoff of
 * 100 ms doubling to 5 s -> setup again. No libpq call here ever blocks, with one exception:
 * PQconnectStart resolves a host name synchronously; give a Unix socket path, hostaddr or an
 * IP address where that matters.
 *
 * Batches and transactions. The statements of one pgconn_submit() call are sent back to back
 * and followed by one pipeline sync. Without an explicit BEGIN, PostgreSQL runs everything
 * between two syncs as one implicit transaction, committed at the sync: so a batch commits
 * or rolls back as a whole, and the callbacks of a batch fire only when its sync arrives, in
 * order, once its fate is known. Explicit BEGIN/COMMIT must not be sent: an aborted explicit
 * transaction block outlives the sync and would fail the batches pipelined behind it.
 *
 * The callback contract (every accepted statement): its callback is called exactly once, never
 * from inside pgconn_submit(), and may call pgconn_submit() or pgconn_free() on this same
 * connection. Requests wait in a bounded queue while the connection is down; a submit that
 * would overflow it is refused at once (PGCONN_FULL, retryable) and no callback fires for it.
 */
#ifndef RESEOLIO_STORE_PGCONN_H
#define RESEOLIO_STORE_PGCONN_H

#include <libpq-fe.h>

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct pgconn;

#define PGCONN_MUST_CHECK __attribute__((warn_unused_result))

/* Statements waiting or in flight at most, unless pgconn_config.max_queue says otherwise. */
#define PGCONN_MAX_QUEUE_DEFAULT 1024
/* Longest a connection attempt (connect, authenticate, setup) may take, by default. */
#define PGCONN_CONNECT_TIMEOUT_DEFAULT_MS 10000
/* Reconnect backoff: first delay and cap. */
#define PGCONN_BACKOFF_MIN_MS 100
#define PGCONN_BACKOFF_MAX_MS 5000

/*
 * The outcome of one statement.
 * err == NULL: the statement succeeded and its batch committed; res is its result
 *   (PGRES_TUPLES_OK or PGRES_COMMAND_OK).
 * err != NULL: failed. With res != NULL nothing of the batch was committed: res is the server's
 *   error (PQresultErrorField gives the SQLSTATE), or the result of a statement that was rolled
 *   back or never run because another statement of its batch failed. With res == NULL the
 *   connection was lost or closed: if the batch had been sent its outcome is unknown (it may
 *   have committed), else it never reached the server.
 * res belongs to pgconn and is cleared when the callback returns: copy what you keep.
 */
typedef void (*pgconn_cb)(void *arg, PGresult *res, const char *err);

/* Every error message of a batch whose outcome is unknown starts with this. */
#define PGCONN_IN_DOUBT "in doubt: "

/* One statement to prepare on every new session. The strings and arrays must outlive the
 * pgconn (static tables, in practice). */
struct pgconn_prep {
    const char *name;
    const char *sql;
    int nparams;
    const Oid *types; /* nparams OIDs, or NULL to let the server infer them */
};

struct pgconn_config {
    const char *conninfo; /* libpq connection string or URL; copied */
    /* Schema to run in (search_path), or NULL for the server's default. Quoted by pgconn. */
    const char *schema;
    const struct pgconn_prep *preps; /* prepared on every session; must outlive the pgconn */
    size_t npreps;
    const char *const *channels; /* LISTENed on every session; copied */
    size_t nchannels;
    size_t max_queue;       /* 0: PGCONN_MAX_QUEUE_DEFAULT */
    int connect_timeout_ms; /* 0: PGCONN_CONNECT_TIMEOUT_DEFAULT_MS */
    /* Callbacks, each optional; all get arg. on_ready fires each time a session is set up
     * (prepared, listening): reconnect is false the first time. A LISTENer should catch up at
     * once then: notifications sent while it was down are lost. on_down fires when a session
     * or an attempt to open one ends, with the reason; a retry is scheduled already. */
    void (*on_ready)(void *arg, bool reconnect);
    void (*on_down)(void *arg, const char *why);
    void (*on_notify)(void *arg, const char *channel, const char *payload);
    void *arg;
};

/* One statement of a batch. Parameters are copied by pgconn_submit. */
struct pgconn_stmt {
    const char *name; /* one of the prepared statements; must outlive the request */
    int nparams;
    const char *const *values; /* NULL entries are SQL NULLs */
    const int *lengths;        /* byte lengths of binary parameters; NULL if all are text */
    const int *formats;        /* 0 text, 1 binary, per parameter; NULL: all text */
    int result_format;         /* 0 text, 1 binary */
    pgconn_cb cb;
    void *arg;
};

enum pgconn_status {
    PGCONN_OK = 0,
    PGCONN_FULL,    /* the queue has no room for the batch: retry later */
    PGCONN_CLOSED,  /* pgconn_free was called */
    PGCONN_NOMEM,   /* out of memory */
    PGCONN_INVALID, /* empty batch, missing callback or bad parameters */
};

/* Create a connection and start connecting (the first attempt starts before this returns).
 * NULL when memory runs out or the configuration is invalid (bad schema name). */
PGCONN_MUST_CHECK struct pgconn *pgconn_new(struct event_base *base,
                                            const struct pgconn_config *cfg);

/* Close the connection. Every statement still waiting or in flight gets its callback with an
 * error first. Safe inside a callback of this connection: then it takes effect when that
 * callback returns. */
void pgconn_free(struct pgconn *c);

/* Queue one batch (one transaction) of n statements; sent at once when the session is ready.
 * On PGCONN_OK every callback will fire exactly once; on any other status none will. */
PGCONN_MUST_CHECK enum pgconn_status pgconn_submit(struct pgconn *c,
                                                   const struct pgconn_stmt *stmts, size_t n);

/* Fail every batch that waits for a session (not those already sent) with err: for an owner
 * that would rather answer "unavailable" than keep requests waiting through an outage.
 * Callbacks fire before this returns. */
void pgconn_fail_waiting(struct pgconn *c, const char *err);

/* True while a session is set up and statements go out at once. */
bool pgconn_ready(const struct pgconn *c);

/* Statements accepted and not yet answered (waiting plus in flight). */
size_t pgconn_pending(const struct pgconn *c);

/* Counters of one pgconn since it was made, for the daemon's metrics. */
struct pgconn_stats {
    unsigned long long round_trips; /* batches whose sync came back (one transaction each) */
    unsigned long long errors;      /* failed batches, and sessions lost or never set up */
    unsigned long long reconnects;  /* sessions set up again after one was lost */
};

/* Copy c's counters into out. */
void pgconn_stats(const struct pgconn *c, struct pgconn_stats *out);

/* The server process of the current session (for logs and tests), 0 when there is none. */
int pgconn_backend_pid(const struct pgconn *c);

/* True when a failure reported to a pgconn_cb may succeed if tried again: the connection
 * was lost (res NULL), or the server reported a transient condition (serialization failure,
 * deadlock, shutdown, connection trouble, lack of resources). */
bool pgconn_retryable(const PGresult *res);

#endif
