/*
 * Claim and dispatch: the workers connected to this daemon (REGISTER: names and concurrency),
 * the jobs running in them, one claim at a time for exactly their free capacity, DISPATCH
 * after the claim commits, a deadline timer per running attempt (ABANDON timeout), the timer
 * for the earliest known future run_at, and the release of a departed worker's jobs.
 */
#ifndef RESEOLIOD_SCHEDULER_H
#define RESEOLIOD_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reseolio/msg.h"

struct conn;
struct engine;
struct scheduler;

/* Owner: the engine. NULL when memory ran out. */
struct scheduler *scheduler_new(struct engine *e) __attribute__((warn_unused_result));
void scheduler_free(struct scheduler *s);

/* REGISTER of c: add its names, set its concurrency, answer OK, claim for it. Returns 0, or
 * -1 when c was closed. */
int scheduler_register(struct scheduler *s, struct conn *c, const struct rs_msg *msg)
    __attribute__((warn_unused_result));

/* c ACKed job id attempt: its slot is free again (whatever the store then says). Returns the
 * attempt's function row in the metrics (metrics_fn_id), or METRICS_MAX_FUNCTIONS when c was
 * not running that attempt. release: the ACK handed the attempt back unfinished, which is no
 * attempt duration. While stopping, the caller then checks whether the grace can end
 * (engine_stop_check), once the outcome is in the completer's batch. */
uint32_t scheduler_acked(struct scheduler *s, struct conn *c, int64_t id, int32_t attempt,
                         bool release);

/* Work for name (NULL: any) is due at run_at_ms: claim now, or arm the timer for then. */
void scheduler_wake(struct scheduler *s, const char *name, size_t name_len, int64_t run_at_ms);

/* A wake-up said that jobs of name (NULL: of several names) became pending, none of them before
 * (run_at_us, id) in the claim's order (INT64_MIN: unknown): drop the claim cursors that lie at
 * or after it, so that the next claim reads those jobs. Call it before scheduler_wake. */
void scheduler_heard(struct scheduler *s, const char *name, size_t name_len, int64_t run_at_us,
                     int64_t id);

/* Job id became final elsewhere (cancelled): ABANDON its attempt if it runs here. */
void scheduler_job_final(struct scheduler *s, int64_t id);

/* The completer committed the outcome of an ACK of id's attempt (applied or stale). */
void scheduler_ack_settled(struct scheduler *s, int64_t id, int32_t attempt);

/* Steps: job id's attempt opened an AWAIT for another job (waiter). While it has one open it
 * lends its worker's slot to steps (true), unless that attempt is not running on this daemon
 * (false). Each true is matched by one scheduler_wait_end when that AWAIT ends. */
bool scheduler_wait_begin(struct scheduler *s, int64_t id, int32_t attempt);
void scheduler_wait_end(struct scheduler *s, int64_t id, int32_t attempt);

/* Enqueue straight to a worker (docs/architecture.md, "A job's life"): reserve a free slot for
 * a job of name due now (0: none; enqueue it pending), then, after the enqueue committed,
 * dispatch the job it created running (scheduler_dispatch_new) or give the slot back
 * (scheduler_unreserve). An enqueue in doubt calls scheduler_lease_in_doubt. */
struct jobstore_claimed;
uint64_t scheduler_reserve(struct scheduler *s, const char *name, size_t len, bool step);
void scheduler_unreserve(struct scheduler *s, uint64_t conn_id);
void scheduler_dispatch_new(struct scheduler *s, uint64_t conn_id,
                            const struct jobstore_claimed *job);
void scheduler_lease_in_doubt(struct scheduler *s);

/* Expire this node's attempts past their deadline now (timer, sweep). */
void scheduler_expire(struct scheduler *s);

/* Claim at once and re-arm the run_at timer from the store (start, reconnect, sweep). */
void scheduler_catch_up(struct scheduler *s);

/* c closes: release its running jobs for retry at once and forget the worker. */
void scheduler_conn_closed(struct scheduler *s, struct conn *c);

/* Stop claiming (graceful stop). */
void scheduler_stop(struct scheduler *s);

/* Attempts dispatched here and not yet ACKed, timed out or released. */
size_t scheduler_running(const struct scheduler *s);

/* Stopping: ABANDON shutdown to every running attempt and hand all of the node's running jobs
 * back (attempt not counted); done(arg) after the release committed or failed. */
void scheduler_release_all(struct scheduler *s, void (*done)(void *arg), void *arg);

#endif
