/*
 * jobstore: the job engine's operations on PostgreSQL, typed: build the parameters of the
 * statements in stmts.c, submit them on a pgconn as one batch (one transaction) each, and
 * hand back decoded rows.
 *
 * Every operation returns the pgconn_submit status: on PGCONN_OK its callback fires exactly
 * once, from the event loop, after the transaction committed (err == NULL) or failed
 * (err != NULL: nothing of it was committed, unless err->in_doubt).
 * Rows passed to a callback point into libpq results and live only until it returns.
 * Node ids are UUIDs as 16 raw bytes.
 */
#ifndef RESEOLIO_STORE_JOBSTORE_H
#define RESEOLIO_STORE_JOBSTORE_H

#include "pgconn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOBSTORE_MUST_CHECK __attribute__((warn_unused_result))

/* Why an operation failed. */
struct jobstore_err {
    const char *message;  /* for logs; never contains job data */
    const char *sqlstate; /* the server's SQLSTATE, "" when the failure was not the server's */
    bool retryable;       /* the same operation may succeed later (connection, contention) */
    bool in_doubt;        /* the connection was lost after sending: it may have committed */
};

/* Same order as the protocol's enum rs_backoff and rs_status. */
enum jobstore_backoff {
    JOBSTORE_BACKOFF_EXPONENTIAL = 0,
    JOBSTORE_BACKOFF_FIXED,
    JOBSTORE_BACKOFF_LINEAR,
};

enum jobstore_status {
    JOBSTORE_PENDING = 0,
    JOBSTORE_RUNNING,
    JOBSTORE_SUCCESS,
    JOBSTORE_DEAD,
    JOBSTORE_CANCELLED,
};

/* Wire name of a status ("pending"), and back (-1 when unknown). */
const char *jobstore_status_name(enum jobstore_status s);
int jobstore_status_parse(const char *s);

/* One job to create. Strings are byte ranges (not NUL-terminated); the protocol layer has
 * checked them (UTF-8, no NUL, lengths, option ranges); the database checks ranges again. */
struct jobstore_new {
    const char *name;
    size_t name_len;
    const void *args;
    size_t args_len;
    const char *key; /* NULL: no idempotency key */
    size_t key_len;
    int32_t max_attempts;
    enum jobstore_backoff backoff;
    int64_t initial_delay_ms;
    int64_t max_delay_ms;
    float jitter;
    int32_t timeout_ms;
    int16_t priority;
    bool has_run_at;
    int64_t run_at_ms; /* with has_run_at: Unix ms */
    int64_t delay_ms;  /* without has_run_at: from the database's clock */
    int64_t parent_id; /* > 0: a step of this job (then key is its identity) */
    int32_t step;      /* with parent_id: its position among the parent's calls */
    bool claimed;      /* create it running (attempt 1) under the enqueue's node: a worker
                          here has a slot for it (due now only) */
};

/* Fill the protocol's defaults (docs/protocol.md, ENQUEUE) for name. */
void jobstore_new_defaults(struct jobstore_new *job, const char *name, size_t name_len);

struct jobstore_enqueued {
    int64_t id;
    bool deduplicated;   /* an existing job holds (name, key): nothing was created */
    int64_t run_at_ms;   /* when created or revived: its run_at; 0 when deduplicated */
    bool revived;        /* deduplicated step that was dead or cancelled: pending again */
    bool claimed;        /* created running, attempt 1, leased to the node (jobstore_new.claimed) */
    int64_t deadline_ms; /* with claimed: the lease's expiry */
};

/* out[i] answers jobs[i]. */
typedef void (*jobstore_enqueue_cb)(void *arg, const struct jobstore_enqueued *out, size_t n,
                                    const struct jobstore_err *err);

/* Create n >= 1 jobs in one transaction, with one wake-up notification. Equal (name, key)
 * pairs, within the batch or racing from other transactions, all get the one job's id. A step
 * (parent_id > 0) whose existing job is dead or cancelled is made pending again (revived). */
JOBSTORE_MUST_CHECK enum pgconn_status jobstore_enqueue(struct pgconn *c, const uint8_t node[16],
                                                        const struct jobstore_new *jobs, size_t n,
                                                        jobstore_enqueue_cb cb, void *arg);

/* A job claimed for this node: what DISPATCH needs. */
struct jobstore_claimed {
    int64_t id;
    const char *name;
    const char *args;
    size_t args_len;
    int32_t attempt; /* the fencing token the worker's ACK must repeat */
    int32_t max_attempts;
    int32_t uncounted; /* the attempt limit in attempt numbers is max_attempts + uncounted */
    int64_t deadline_ms;
    int32_t timeout_ms;
    int64_t parent_id; /* > 0: a step of that job */
    int16_t priority;  /* with run_at_us and id: its place in the claim's order */
    int64_t run_at_us; /* Unix microseconds */
};

/* Where a name's claim starts (the claim's order: priority descending, then run_at, then id):
 * at this priority, past (run_at_us, id); higher and lower priorities are read whole. The last
 * job claimed for that name; set false: from the start. */
struct jobstore_cursor {
    bool set;
    int16_t priority;
    int64_t run_at_us;
    int64_t id;
};

typedef void (*jobstore_claim_cb)(void *arg, const struct jobstore_claimed *jobs, size_t n,
                                  const struct jobstore_err *err);

/* Claim up to limits[i] due jobs of names[i] each (only steps where steps_only[i]; steps_only
 * may be NULL) and up to total in all, best priority first, then earliest run_at, then oldest;
 * lease them to node until their timeout. cursors[i] (cursors may be NULL: none) skips the
 * jobs of names[i] before it, at its priority. */
JOBSTORE_MUST_CHECK enum pgconn_status
jobstore_claim(struct pgconn *c, const uint8_t node[16], const char *const *names,
               const int32_t *limits, const bool *steps_only, const struct jobstore_cursor *cursors,
               size_t nnames, int32_t total, jobstore_claim_cb cb, void *arg);

/* The outcome of one attempt, from a worker's ACK. */
struct jobstore_outcome {
    int64_t id;
    int32_t attempt;
    bool ok;
    const void *result; /* with ok */
    size_t result_len;
    const char *error; /* without ok; NULL: none */
    size_t error_len;
    bool retryable; /* without ok */
};

/* A job some statement moved: where it went. */
struct jobstore_moved {
    int64_t id;
    int32_t attempt;
    enum jobstore_status status; /* success, pending (retry; due at run_at_ms) or dead ... */
    int64_t run_at_ms;
    bool has_node; /* expire, reclaim: the node whose lease it was */
    uint8_t node[16];
    const char *name; /* expire, reclaim: the function (not NUL-terminated; valid during the
                         callback only), else NULL */
    size_t name_len;
};

typedef void (*jobstore_moved_cb)(void *arg, const struct jobstore_moved *rows, size_t n,
                                  const struct jobstore_err *err);

/* Record n outcomes of node's attempts. Only outcomes of attempts still running under node's
 * lease apply; the rows say which (an outcome absent from them was stale). One outcome per
 * job in a batch. */
JOBSTORE_MUST_CHECK enum pgconn_status jobstore_complete(struct pgconn *c, const uint8_t node[16],
                                                         const struct jobstore_outcome *out,
                                                         size_t n, jobstore_moved_cb cb, void *arg);

/* Hand node's running jobs back: those of the n (ids[i], attempts[i]) pairs, or all of them
 * when n is 0. consume: the attempt counts (worker died) and error is recorded; else it does
 * not (daemon shutting down; the node must not claim again afterwards). */
JOBSTORE_MUST_CHECK enum pgconn_status jobstore_release(struct pgconn *c, const uint8_t node[16],
                                                        const int64_t *ids, const int32_t *attempts,
                                                        size_t n, bool consume, const char *error,
                                                        jobstore_moved_cb cb, void *arg);

/* Time out up to limit running attempts past their deadline: node's own at once, other
 * nodes' grace_ms later. */
JOBSTORE_MUST_CHECK enum pgconn_status jobstore_expire(struct pgconn *c, const uint8_t node[16],
                                                       int64_t grace_ms, int32_t limit,
                                                       jobstore_moved_cb cb, void *arg);

/* Take back up to limit running jobs of nodes without a heartbeat in lapse_ms. */
JOBSTORE_MUST_CHECK enum pgconn_status jobstore_reclaim(struct pgconn *c, int64_t lapse_ms,
                                                        int32_t limit, const char *error,
                                                        jobstore_moved_cb cb, void *arg);

typedef void (*jobstore_done_cb)(void *arg, size_t count, const struct jobstore_err *err);

/* Register node (first call) or refresh its heartbeat; count is 1. */
JOBSTORE_MUST_CHECK enum pgconn_status jobstore_node_beat(struct pgconn *c, const uint8_t node[16],
                                                          const char *host, int32_t pid,
                                                          jobstore_done_cb cb, void *arg);
/* Remove node's row (count: rows removed). */
JOBSTORE_MUST_CHECK enum pgconn_status jobstore_node_gone(struct pgconn *c, const uint8_t node[16],
                                                          jobstore_done_cb cb, void *arg);
/* Remove nodes lapsed for lapse_ms that hold no running job (count: nodes removed). */
JOBSTORE_MUST_CHECK enum pgconn_status jobstore_node_prune(struct pgconn *c, int64_t lapse_ms,
                                                           jobstore_done_cb cb, void *arg);

/* Delete up to limit jobs that finished more than retention_s ago, oldest first (count: jobs
 * deleted; a full batch means there may be more). */
JOBSTORE_MUST_CHECK enum pgconn_status jobstore_prune_jobs(struct pgconn *c, int64_t retention_s,
                                                           int32_t limit, jobstore_done_cb cb,
                                                           void *arg);

/* A job as GET, LIST, CANCEL and RETRY show it (the protocol's JOB). */
struct jobstore_job {
    int64_t id;
    const char *name;
    enum jobstore_status status;
    int32_t attempt;
    int32_t max_attempts;
    int32_t uncounted;
    const char *args;
    size_t args_len;
    bool has_result;
    const char *result;
    size_t result_len;
    const char *error; /* NULL: none */
    const char *key;   /* NULL: none */
    int16_t priority;
    int64_t created_at_ms;
    int64_t run_at_ms;
    bool has_started_at;
    int64_t started_at_ms;
    bool has_finished_at;
    int64_t finished_at_ms;
    int64_t parent_id; /* 0: not a step */
    int32_t step;
};

/* job NULL: no such job. */
typedef void (*jobstore_get_cb)(void *arg, const struct jobstore_job *job,
                                const struct jobstore_err *err);

JOBSTORE_MUST_CHECK enum pgconn_status jobstore_get(struct pgconn *c, int64_t id,
                                                    jobstore_get_cb cb, void *arg);

enum jobstore_change {
    JOBSTORE_CHANGED,   /* done; job is the new state */
    JOBSTORE_NOT_FOUND, /* no such job */
    JOBSTORE_CONFLICT,  /* the job's status does not allow it (prev_status says which) */
};

struct jobstore_changed {
    enum jobstore_change change;
    enum jobstore_status prev_status;
    bool prev_has_node; /* cancel of a running job: whose attempt it was */
    uint8_t prev_node[16];
    int32_t prev_attempt;
    const struct jobstore_job *job; /* with JOBSTORE_CHANGED */
};

typedef void (*jobstore_change_cb)(void *arg, const struct jobstore_changed *what,
                                   const struct jobstore_err *err);

/* pending or running -> cancelled. */
JOBSTORE_MUST_CHECK enum pgconn_status jobstore_cancel(struct pgconn *c, int64_t id,
                                                       jobstore_change_cb cb, void *arg);
/* dead or cancelled -> pending, due now, with a fresh set of attempts. */
JOBSTORE_MUST_CHECK enum pgconn_status jobstore_retry(struct pgconn *c, int64_t id,
                                                      jobstore_change_cb cb, void *arg);

/* next: the cursor for the following page (LIST's "after"), 0 on the last page. */
typedef void (*jobstore_list_cb)(void *arg, const struct jobstore_job *jobs, size_t n, int64_t next,
                                 const struct jobstore_err *err);

/* What LIST selects: status < 0 for any status, name NULL for any, before 0 for the newest,
 * limit 1..1000, parent 0 for any job (else only that job's steps). */
struct jobstore_filter {
    int status;
    const char *name;
    int64_t before;
    int32_t limit;
    int64_t parent;
};

/* Jobs newest first. */
JOBSTORE_MUST_CHECK enum pgconn_status
jobstore_list(struct pgconn *c, const struct jobstore_filter *f, jobstore_list_cb cb, void *arg);

/* Where a job stands, for AWAIT: result with success, error with dead or cancelled. */
struct jobstore_final {
    int64_t id;
    enum jobstore_status status;
    int32_t attempt;
    bool has_result;
    const char *result;
    size_t result_len;
    const char *error; /* NULL: none */
};

/* rows: the jobs of ids that exist, in no order (an id absent from them is unknown). */
typedef void (*jobstore_finals_cb)(void *arg, const struct jobstore_final *rows, size_t n,
                                   const struct jobstore_err *err);

/* Look up 1..JOBSTORE_MAX_FINALS jobs in one statement. */
#define JOBSTORE_MAX_FINALS 1000
JOBSTORE_MUST_CHECK enum pgconn_status jobstore_finals(struct pgconn *c, const int64_t *ids,
                                                       size_t n, jobstore_finals_cb cb, void *arg);

/* A transaction that holds back vacuum (STMT_OLDEST_SNAPSHOT). */
struct jobstore_snapshot {
    int32_t pid; /* 0: a prepared transaction */
    int64_t age_s;
    const char *who;   /* application name, or the prepared transaction's gid; valid during
                          the callback only */
    const char *state; /* pg_stat_activity.state, or "prepared" */
};

/* old is NULL when no transaction is that old. */
typedef void (*jobstore_snapshot_cb)(void *arg, const struct jobstore_snapshot *old,
                                     const struct jobstore_err *err);

/* The transaction of this database holding a snapshot longest, if it began more than
 * older_than_s ago. */
JOBSTORE_MUST_CHECK enum pgconn_status jobstore_oldest_snapshot(struct pgconn *c,
                                                                int64_t older_than_s,
                                                                jobstore_snapshot_cb cb, void *arg);

/* has false: no pending job of those names is due in the future. */
typedef void (*jobstore_next_cb)(void *arg, bool has, int64_t run_at_ms,
                                 const struct jobstore_err *err);

/* The earliest run_at of a pending job of those names after after_ms (Unix ms; 0: after the
 * database's now). */
JOBSTORE_MUST_CHECK enum pgconn_status jobstore_next_run_at(struct pgconn *c,
                                                            const char *const *names, size_t nnames,
                                                            int64_t after_ms, jobstore_next_cb cb,
                                                            void *arg);

/* --- for the store's other modules (schedstore.c) ----------------------------------------- */

/* A failed statement as the callbacks see it. */
void jobstore_err_from(struct jobstore_err *e, const PGresult *res, const char *err);

/* A result whose columns are not what the statement returns (a schema of another version). */
extern const struct jobstore_err jobstore_bad_shape;

/* Decode the rows of a statement's result into a new array of *n elements of size bytes, one
 * decode call per row (false: bad shape). Returns NULL with *out (to free; NULL when there are
 * no rows) and *n set, or the failure to report: the statement's own (filled into e), nomem,
 * or jobstore_bad_shape. */
const struct jobstore_err *jobstore_rows(PGresult *res, const char *err, struct jobstore_err *e,
                                         size_t size, bool (*decode)(const PGresult *, int, void *),
                                         const struct jobstore_err *nomem, void **out, size_t *n);

#endif
