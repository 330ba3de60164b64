/*
 * Claim and dispatch: the workers connected to this daemon (REGISTER: names and concurrency),
 * the jobs running in them, one claim at a time for exactly their free capacity, DISPATCH
 * after the claim commits, a deadline timer per running attempt (ABANDON timeout), the timer
 * for the earliest known future run_at, and the release of a departed worker's jobs.
 */
#include "scheduler.h"

#include <event2/event.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "conn.h"
#include "engine.h"
#include "jobstore.h"
#include "log.h"
#include "metrics.h"

/* Running attempts hashed by job id (a power of two). */
#define SCHED_BUCKETS 4096u
/* A local deadline fires this much after the lease's, so the store agrees it passed. */
#define SCHED_DEADLINE_MARGIN_MS 20
/* Distinct function names one claim asks for at most. */
#define SCHED_MAX_CLAIM_NAMES 4096u

/* One dispatched attempt. Owner: its worker (worker.running) and the hash. */
struct running {
    TAILQ_ENTRY(running) link;  /* in worker.running */
    LIST_ENTRY(running) bucket; /* in scheduler.buckets[id % SCHED_BUCKETS] */
    struct scheduler *s;
    struct worker *w;
    int64_t id;
    int32_t attempt;
    int64_t deadline_ms;
    struct event *ev_deadline;
    uint32_t fn;         /* its function's row in the metrics */
    uint64_t started_us; /* metrics_now_us() at DISPATCH */
    uint32_t awaits;     /* AWAITs it has open (waiter): while > 0 it holds no slot */
};

/* A connection that sent REGISTER. Owner: the scheduler; conn.worker points here. */
struct worker {
    LIST_ENTRY(worker) link; /* in scheduler.workers */
    struct conn *conn;       /* not owned */
    char **names;            /* owned, NUL-terminated copies */
    size_t nnames;
    uint32_t concurrency;
    uint32_t nrunning;
    uint32_t nwaiting; /* of nrunning: waiting for another job (AWAIT waiter), no slot held */
    uint32_t reserved; /* slots promised to the claim in flight */
    uint32_t direct;   /* slots promised to jobs being enqueued as claimed (scheduler_reserve) */
    TAILQ_HEAD(, running) running;
};

struct scheduler {
    struct engine *e; /* not owned */
    LIST_HEAD(, worker) workers;
    LIST_HEAD(, running) buckets[SCHED_BUCKETS];
    size_t nrunning;
    bool claim_inflight;
    bool claim_again; /* something changed while a claim was in flight */
    /* A claim's reply was lost (in doubt): it may have leased jobs to this node that nobody
     * runs. Until they are handed back (scheduler_orphans) no claim is sent. */
    bool claim_doubt;
    uint32_t direct_inflight; /* reservations of enqueues not answered yet */
    bool orphans_inflight;
    /* Attempts whose ACK arrived here and whose outcome is not committed yet (it may be in
     * doubt too, the worker repeating it): still running in the table, no longer in buckets,
     * and never to be taken for a lost claim's. Entries are owned. */
    LIST_HEAD(, acked) acked[SCHED_BUCKETS];
    int64_t *orphan_ids; /* found so far, over the pages of running jobs; owned */
    int32_t *orphan_attempts;
    size_t norphans;
    int64_t claim_asked; /* jobs the claim in flight asked for at most */
    /* The claim in flight's names and limits (copies), to learn whether it drained them. */
    char **claim_names;
    int32_t *claim_limits;
    bool *claim_steps_only;
    size_t claim_nnames;
    /* Claim cursors, at most SCHED_MAX_CLAIM_NAMES, all dropped at each sweep so that the
     * claim scans from the start at least that often. */
    struct cursor *cursors;
    size_t ncursors;
    /* Wake-ups heard while the claim was in flight, the earliest place among them (INT64_MIN:
     * unknown): the claim may have read before their jobs committed, so a cursor it would set at
     * or past that place is not kept. */
    bool heard_inflight;
    int64_t heard_us, heard_id;
    /* The last claim found fewer due jobs than it asked for, for every name, and no new work
     * was announced since: a freed slot then claims nothing (no empty claim per ACK). Work
     * announced (NOTIFY, run_at timer, REGISTER, sweep) clears it. */
    bool drained;
    bool next_inflight;
    bool next_again;          /* a look-up was asked for while one was in flight */
    int64_t next_again_after; /* its bound (INT64_MAX: the database's now) */
    bool stopped;
    struct event *ev_claim;  /* activated to claim once at the end of this loop turn */
    struct event *ev_run_at; /* the earliest known future run_at */
    int64_t run_at_armed;    /* when ev_run_at fires (Unix ms), 0 when not armed */
    void (*released)(void *arg);
    void *released_arg;
};

/* Where the claim for one name starts (docs/architecture.md, "Claim cursors"): every due
 * job of that name before it, at its priority, was claimed (by anyone) or taken by a lock.
 * Owner: the scheduler. */
struct cursor {
    char *name; /* owned */
    struct jobstore_cursor at;
};

/* An attempt acknowledged here whose outcome is not committed yet. Owner: the scheduler. */
struct acked {
    LIST_ENTRY(acked) link;
    int64_t id;
    int32_t attempt;
};

static void scheduler_claim(struct scheduler *s);
static void scheduler_orphans(struct scheduler *s, int64_t before);
static void scheduler_next_run_at(struct scheduler *s);
static void scheduler_next_after(struct scheduler *s, int64_t after_ms);
static void scheduler_arm(struct scheduler *s, int64_t at_ms);

/* Claim at the end of this loop turn, once however many reasons arrived. */
static void scheduler_kick(struct scheduler *s)
{
    if (!s->stopped)
        event_active(s->ev_claim, 0, 0);
}

/* New work may be due: claim even if the last claim drained the queue. */
static void scheduler_kick_work(struct scheduler *s)
{
    s->drained = false;
    scheduler_kick(s);
}

/* A slot came free: claim, unless the queue was drained and nothing came since. */
static void scheduler_kick_freed(struct scheduler *s)
{
    if (!s->drained)
        scheduler_kick(s);
}

/* Forget the copies of the claim in flight's names. */
static void scheduler_claim_names_free(struct scheduler *s)
{
    for (size_t i = 0; i < s->claim_nnames; i++)
        free(s->claim_names[i]);
    free(s->claim_names);
    free(s->claim_limits);
    free(s->claim_steps_only);
    s->claim_names = NULL;
    s->claim_limits = NULL;
    s->claim_steps_only = NULL;
    s->claim_nnames = 0;
}

/* Drop every claim cursor: the next claim scans each name from the start. */
static void scheduler_cursors_clear(struct scheduler *s)
{
    for (size_t i = 0; i < s->ncursors; i++)
        free(s->cursors[i].name);
    free(s->cursors);
    s->cursors = NULL;
    s->ncursors = 0;
}

/* The cursor is name's (len bytes, not NUL-terminated). */
static bool cursor_is(const struct cursor *c, const char *name, size_t len)
{
    return strlen(c->name) == len && memcmp(c->name, name, len) == 0;
}

static struct cursor *scheduler_cursor_find(struct scheduler *s, const char *name, size_t len)
{
    for (size_t i = 0; i < s->ncursors; i++)
        if (cursor_is(&s->cursors[i], name, len))
            return &s->cursors[i];
    return NULL;
}

/* (us, id) lies at or before the place (run_at_us, id). Priorities are not compared: a job
 * woken at another priority than a cursor's is read by the claim's other scans anyway, so
 * taking it for one at the cursor's priority only costs a scan from the start. */
static bool place_covers(int64_t run_at_us, int64_t at_id, int64_t us, int64_t id)
{
    return us < run_at_us || (us == run_at_us && id <= at_id);
}

/* Job b comes after job a in the claim's order. */
static bool claimed_after(const struct jobstore_claimed *a, const struct jobstore_claimed *b)
{
    if (a->priority != b->priority)
        return b->priority < a->priority;
    if (a->run_at_us != b->run_at_us)
        return b->run_at_us > a->run_at_us;
    return b->id > a->id;
}

/* A claim of name (not steps_only) committed; last is the last of its jobs in the claim's
 * order: the claim for name starts after it next time. Wake-ups heard meanwhile at or before
 * it drop the cursor instead. */
static void scheduler_cursor_advance(struct scheduler *s, const char *name,
                                     const struct jobstore_claimed *last)
{
    size_t len = strlen(name);
    struct cursor *c = scheduler_cursor_find(s, name, len);
    if (s->heard_inflight && place_covers(last->run_at_us, last->id, s->heard_us, s->heard_id)) {
        if (c != NULL)
            c->at.set = false;
        return;
    }
    if (c == NULL) {
        if (s->ncursors == SCHED_MAX_CLAIM_NAMES)
            return;
        char *copy = strdup(name);
        struct cursor *grown = realloc(s->cursors, (s->ncursors + 1) * sizeof(*grown));
        if (copy == NULL || grown == NULL) {
            free(copy);
            if (grown != NULL)
                s->cursors = grown;
            return;
        }
        s->cursors = grown;
        c = &s->cursors[s->ncursors++];
        c->name = copy;
    }
    c->at = (struct jobstore_cursor){true, last->priority, last->run_at_us, last->id};
}

/* The claim in flight committed: move the cursor of each name it claimed for whole. */
static void scheduler_cursors_advance(struct scheduler *s, const struct jobstore_claimed *jobs,
                                      size_t n)
{
    for (size_t k = 0; k < s->claim_nnames; k++) {
        if (s->claim_steps_only[k])
            continue; /* steps only: the top-level jobs it passed are still there */
        const struct jobstore_claimed *last = NULL;
        for (size_t i = 0; i < n; i++)
            if (strcmp(jobs[i].name, s->claim_names[k]) == 0 &&
                (last == NULL || claimed_after(last, &jobs[i])))
                last = &jobs[i];
        if (last != NULL)
            scheduler_cursor_advance(s, s->claim_names[k], last);
    }
}

void scheduler_heard(struct scheduler *s, const char *name, size_t name_len, int64_t run_at_us,
                     int64_t id)
{
    for (size_t i = 0; i < s->ncursors; i++) {
        struct cursor *c = &s->cursors[i];
        if (c->at.set && (name == NULL || name_len == 0 || cursor_is(c, name, name_len)) &&
            place_covers(c->at.run_at_us, c->at.id, run_at_us, id))
            c->at.set = false;
    }
    if (!s->claim_inflight)
        return;
    if (!s->heard_inflight || run_at_us < s->heard_us)
        s->heard_us = run_at_us;
    if (!s->heard_inflight || id < s->heard_id)
        s->heard_id = id;
    s->heard_inflight = true;
}

/* ev_claim. */
static void scheduler_on_claim(evutil_socket_t fd, short what, void *arg)
{
    scheduler_claim(arg);
}

/* The run_at timer fired: claim what is due, and look for the next future run_at. */
static void scheduler_on_run_at(evutil_socket_t fd, short what, void *arg)
{
    struct scheduler *s = arg;
    int64_t due = s->run_at_armed;
    s->run_at_armed = 0;
    if (due != 0 && engine_now_ms() <= due) {
        /* Early by the loop's clock: a claim now would find the job not yet due, and the
         * look-up after it might find it due already, leaving only the sweep to run it. */
        scheduler_arm(s, due);
        return;
    }
    log_debug("run_at timer fired: claiming");
    s->drained = false;
    scheduler_claim(s);
    /* After due, not after the look-up's own now: a job that falls due between the claim and
     * the look-up is neither claimed nor in the future, and nothing else would wake us. */
    scheduler_next_after(s, due);
}

/* Make a scheduler. */
struct scheduler *scheduler_new(struct engine *e)
{
    struct scheduler *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->e = e;
    s->next_again_after = INT64_MAX;
    LIST_INIT(&s->workers);
    for (size_t i = 0; i < SCHED_BUCKETS; i++) {
        LIST_INIT(&s->buckets[i]);
        LIST_INIT(&s->acked[i]);
    }
    s->ev_claim = event_new(e->base, -1, 0, scheduler_on_claim, s);
    s->ev_run_at = evtimer_new(e->base, scheduler_on_run_at, s);
    if (s->ev_claim == NULL || s->ev_run_at == NULL) {
        scheduler_free(s);
        return NULL;
    }
    return s;
}

/* Forget one running attempt (its slot is free). */
static void running_free(struct running *r)
{
    struct scheduler *s = r->s;
    TAILQ_REMOVE(&r->w->running, r, link);
    LIST_REMOVE(r, bucket);
    if (r->awaits > 0)
        r->w->nwaiting--;
    r->w->nrunning--;
    s->nrunning--;
    if (r->ev_deadline != NULL)
        event_free(r->ev_deadline);
    free(r);
}

/* Forget a worker and its running attempts (the caller released them). */
static void worker_free(struct worker *w)
{
    struct running *r;
    while ((r = TAILQ_FIRST(&w->running)) != NULL)
        running_free(r);
    LIST_REMOVE(w, link);
    if (w->conn != NULL)
        w->conn->worker = NULL;
    for (size_t i = 0; i < w->nnames; i++)
        free(w->names[i]);
    free(w->names);
    free(w);
}

/* Release everything. */
void scheduler_free(struct scheduler *s)
{
    if (s == NULL)
        return;
    struct worker *w;
    while ((w = LIST_FIRST(&s->workers)) != NULL)
        worker_free(w);
    if (s->ev_claim != NULL)
        event_free(s->ev_claim);
    if (s->ev_run_at != NULL)
        event_free(s->ev_run_at);
    free(s->orphan_ids);
    free(s->orphan_attempts);
    for (size_t i = 0; i < SCHED_BUCKETS; i++) {
        struct acked *a;
        while ((a = LIST_FIRST(&s->acked[i])) != NULL) {
            LIST_REMOVE(a, link);
            free(a);
        }
    }
    scheduler_claim_names_free(s);
    scheduler_cursors_clear(s);
    free(s);
}

/* Free slots of a worker right now, for any job. */
static uint32_t worker_free_slots(const struct worker *w)
{
    uint32_t used = w->nrunning + w->reserved + w->direct;
    return w->concurrency > used ? w->concurrency - used : 0;
}

/* Free slots for steps: a job waiting for another job lends its slot, to steps only, so that
 * what it waits for can run, and waiting jobs never pile up beyond the concurrency
 * (docs/architecture.md, "Steps"). At least worker_free_slots(w). */
static uint32_t worker_step_slots(const struct worker *w)
{
    uint32_t used = w->nrunning - w->nwaiting + w->reserved + w->direct;
    return w->concurrency > used ? w->concurrency - used : 0;
}

/* Free slots of w for a claimed job (a step or not). */
static uint32_t worker_slots_for(const struct worker *w, const struct jobstore_claimed *job)
{
    return job->parent_id > 0 ? worker_step_slots(w) : worker_free_slots(w);
}

/* True when w runs name. */
static bool worker_serves(const struct worker *w, const char *name, size_t len)
{
    for (size_t i = 0; i < w->nnames; i++)
        if (strlen(w->names[i]) == len && memcmp(w->names[i], name, len) == 0)
            return true;
    return false;
}

/* The running attempt of job id, or NULL. */
static struct running *scheduler_find(struct scheduler *s, int64_t id)
{
    struct running *r;
    LIST_FOREACH(r, &s->buckets[(uint64_t)id & (SCHED_BUCKETS - 1)], bucket)
    if (r->id == id)
        return r;
    return NULL;
}

/* The acknowledged, not yet committed attempt of id, or NULL. */
static struct acked *scheduler_acked_find(struct scheduler *s, int64_t id, int32_t attempt)
{
    struct acked *a;
    LIST_FOREACH(a, &s->acked[(uint64_t)id & (SCHED_BUCKETS - 1)], link)
    if (a->id == id && a->attempt == attempt)
        return a;
    return NULL;
}

/* Job id's attempt, running here, waits for another job: lend its slot. The AWAIT may come
 * from any connection (a C handler awaits through a client of its own). */
bool scheduler_wait_begin(struct scheduler *s, int64_t id, int32_t attempt)
{
    struct running *r = scheduler_find(s, id);
    if (r == NULL || r->attempt != attempt)
        return false;
    if (r->awaits++ == 0) {
        r->w->nwaiting++;
        log_debug("job %lld attempt %d waits for another job: its slot is lent", (long long)id,
                  attempt);
        scheduler_kick_freed(s);
    }
    return true;
}

/* One wait of job id's attempt ended (answered, timed out or dropped). */
void scheduler_wait_end(struct scheduler *s, int64_t id, int32_t attempt)
{
    struct running *r = scheduler_find(s, id);
    if (r == NULL || r->attempt != attempt || r->awaits == 0)
        return;
    if (--r->awaits == 0)
        r->w->nwaiting--;
}

/* Tell connection c to stop job id's attempt. Sending may close c (and so release its jobs):
 * callers forget the attempt first. */
static void scheduler_abandon(struct conn *c, int64_t id, int32_t attempt,
                              enum rs_abandon_reason reason)
{
    if (c == NULL || c->closed)
        return;
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_ABANDON;
    m.u.abandon.job = (uint64_t)id;
    m.u.abandon.attempt = (uint64_t)attempt;
    m.u.abandon.reason = reason;
    if (conn_send(c, &m) != 0)
        log_debug("conn %llu: dropped while sending ABANDON", (unsigned long long)c->id);
}

/* Forget r and send its worker ABANDON with reason. */
static void scheduler_drop(struct running *r, enum rs_abandon_reason reason)
{
    struct conn *c = r->w->conn;
    int64_t id = r->id;
    int32_t attempt = r->attempt;
    running_free(r);
    scheduler_abandon(c, id, attempt, reason);
}

/* The worker count went down while stopping: maybe the grace can end. */
static void scheduler_slot_freed(struct scheduler *s)
{
    if (s->stopped) {
        if (s->nrunning == 0)
            engine_stop_check(s->e);
        return;
    }
    scheduler_kick_freed(s);
}

/* The store timed attempts out: log where they went. */
static void scheduler_on_expired(void *arg, const struct jobstore_moved *rows, size_t n,
                                 const struct jobstore_err *err)
{
    if (err != NULL) {
        log_warn("expiring timed-out attempts failed: %s; the next sweep tries again",
                 err->message);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        metrics_job_moved(rows[i].name, rows[i].name_len, METRICS_TIMED_OUT,
                          rows[i].status == JOBSTORE_DEAD);
        log_info("job %lld attempt %d timed out: now %s", (long long)rows[i].id, rows[i].attempt,
                 jobstore_status_name(rows[i].status));
    }
}

/* Expire this node's attempts past their deadline (and others' after the grace). */
void scheduler_expire(struct scheduler *s)
{
    if (s->e->db == NULL)
        return;
    enum pgconn_status st = jobstore_expire(s->e->db, s->e->node, ENGINE_EXPIRE_GRACE_MS,
                                            ENGINE_MOVE_LIMIT, scheduler_on_expired, s);
    if (st != PGCONN_OK)
        log_warn("cannot send the expiry of timed-out attempts (status %d); the sweep retries",
                 (int)st);
}

/* An attempt's deadline passed: ABANDON it, free the slot, expire it in the store. */
static void scheduler_on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct running *r = arg;
    struct scheduler *s = r->s;
    /* counted as timed out when the expiry commits (scheduler_on_expired) */
    log_info("conn %llu: job %lld attempt %d passed its deadline; sending ABANDON timeout and "
             "expiring the attempt",
             (unsigned long long)(r->w->conn != NULL ? r->w->conn->id : 0), (long long)r->id,
             r->attempt);
    scheduler_drop(r, RS_ABANDON_TIMEOUT);
    scheduler_expire(s);
    scheduler_slot_freed(s);
}

/* Send DISPATCH for job to w, and start its deadline. */
static void scheduler_dispatch(struct scheduler *s, struct worker *w,
                               const struct jobstore_claimed *job)
{
    struct running *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        log_error("out of memory dispatching job %lld; it runs again after its lease",
                  (long long)job->id);
        return;
    }
    r->s = s;
    r->w = w;
    r->id = job->id;
    r->attempt = job->attempt;
    r->deadline_ms = job->deadline_ms;
    r->fn = metrics_fn_id(job->name, strlen(job->name));
    r->started_us = metrics_now_us();
    metrics_job(r->fn, METRICS_STARTED);
    TAILQ_INSERT_TAIL(&w->running, r, link);
    LIST_INSERT_HEAD(&s->buckets[(uint64_t)job->id & (SCHED_BUCKETS - 1)], r, bucket);
    w->nrunning++;
    s->nrunning++;
    int64_t in = job->deadline_ms - engine_now_ms() + SCHED_DEADLINE_MARGIN_MS;
    if (in < 0)
        in = 0;
    struct timeval tv = {(time_t)(in / 1000), (suseconds_t)(in % 1000) * 1000};
    r->ev_deadline = evtimer_new(s->e->base, scheduler_on_deadline, r);
    if (r->ev_deadline == NULL || evtimer_add(r->ev_deadline, &tv) != 0)
        log_error("job %lld: cannot arm its deadline timer; the sweep expires it",
                  (long long)job->id);

    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_DISPATCH;
    m.u.dispatch.job = (uint64_t)job->id;
    m.u.dispatch.name = (struct rs_str){job->name, (uint32_t)strlen(job->name)};
    m.u.dispatch.args = (struct rs_bytes){(const uint8_t *)job->args, (uint32_t)job->args_len};
    m.u.dispatch.attempt = (uint64_t)job->attempt;
    /* Attempt numbers keep counting across RETRY: the limit in attempt numbers. */
    m.u.dispatch.max_attempts = (uint64_t)job->max_attempts + (uint64_t)job->uncounted;
    m.u.dispatch.deadline = job->deadline_ms;
    log_debug("conn %llu: DISPATCH job %lld (%s) attempt %d, deadline in %lld ms",
              (unsigned long long)w->conn->id, (long long)job->id, job->name, job->attempt,
              (long long)in);
    /* A dropped connection releases this attempt with the rest of its jobs. */
    if (conn_send(w->conn, &m) != 0)
        return;
}

/* The worker of connection conn_id, or NULL. */
static struct worker *scheduler_worker_of(struct scheduler *s, uint64_t conn_id)
{
    struct worker *w;
    LIST_FOREACH(w, &s->workers, link)
    if (w->conn != NULL && w->conn->id == conn_id)
        return w;
    return NULL;
}

/* A job due now is about to be enqueued: if the queue is drained (no older job of its
 * function waits) and a worker here has a free slot for it, promise that slot, so that the
 * enqueue creates the job running, leased here, and no claim is needed. Returns the worker's
 * connection id, or 0 (enqueue it pending as usual). */
uint64_t scheduler_reserve(struct scheduler *s, const char *name, size_t len, bool step)
{
    if (s->stopped || !s->drained || s->claim_doubt || s->orphans_inflight || s->e->db == NULL)
        return 0;
    struct worker *w, *best = NULL;
    uint32_t best_slots = 0;
    LIST_FOREACH(w, &s->workers, link)
    {
        if (w->conn == NULL || w->conn->closed || !worker_serves(w, name, len))
            continue;
        uint32_t slots = step ? worker_step_slots(w) : worker_free_slots(w);
        if (slots > best_slots) {
            best = w;
            best_slots = slots;
        }
    }
    if (best == NULL)
        return 0;
    best->direct++;
    s->direct_inflight++;
    return best->conn->id;
}

/* A reservation's enqueue is answered: forget the promise. */
static void scheduler_reserve_done(struct scheduler *s, struct worker *w)
{
    if (w != NULL && w->direct > 0)
        w->direct--;
    if (s->direct_inflight > 0 && --s->direct_inflight == 0 &&
        (s->claim_doubt || s->orphans_inflight))
        scheduler_kick(s);
}

/* The enqueue created nothing running for this reservation (a duplicate, or it failed). */
void scheduler_unreserve(struct scheduler *s, uint64_t conn_id)
{
    scheduler_reserve_done(s, scheduler_worker_of(s, conn_id));
    scheduler_kick_freed(s);
}

/* An enqueue whose outcome is unknown (the connection was lost after sending) may have made
 * running jobs leased here that no worker knows: look for them as for a lost claim. */
void scheduler_lease_in_doubt(struct scheduler *s)
{
    if (s->stopped)
        return;
    s->claim_doubt = true;
    scheduler_kick(s);
}

static void scheduler_on_unwanted(void *arg, const struct jobstore_moved *rows, size_t n,
                                  const struct jobstore_err *err);

/* The enqueue created job running under the reservation of connection conn_id: dispatch it
 * there, or hand it back (not counted) if that worker went away meanwhile. */
void scheduler_dispatch_new(struct scheduler *s, uint64_t conn_id,
                            const struct jobstore_claimed *job)
{
    struct worker *w = scheduler_worker_of(s, conn_id);
    scheduler_reserve_done(s, w);
    /* The worker may have lowered its concurrency meanwhile (REGISTER 0 at a stop): then its
     * slot is gone, and the job goes back uncounted like one for a worker that left. */
    if (w != NULL && !s->stopped && !w->conn->closed && worker_slots_for(w, job) > 0) {
        scheduler_dispatch(s, w, job);
        return;
    }
    int64_t id = job->id;
    int32_t attempt = job->attempt;
    if (jobstore_release(s->e->db, s->e->node, &id, &attempt, 1, false, NULL, scheduler_on_unwanted,
                         s) != PGCONN_OK)
        log_warn("cannot hand back job %lld; it is retried after its timeout", (long long)id);
}

/* Jobs claimed for workers that went away meanwhile: hand them back, not counted. */
static void scheduler_on_unwanted(void *arg, const struct jobstore_moved *rows, size_t n,
                                  const struct jobstore_err *err)
{
    if (err != NULL)
        log_warn("handing back claimed jobs failed: %s; they are reclaimed after the lease",
                 err->message);
    else
        log_info("handed back %zu claimed job(s) that no worker could take", n);
}

/* True when the claim got fewer jobs than it asked for, of every name: none was left due. A
 * claim that asked for steps only (slots lent by waiting jobs) did not look at the top-level
 * jobs: a slot freed later must claim again. */
static bool scheduler_claim_drained(const struct scheduler *s, const struct jobstore_claimed *jobs,
                                    size_t n)
{
    if (s->claim_names == NULL || (int64_t)n >= s->claim_asked)
        return false;
    for (size_t k = 0; k < s->claim_nnames; k++)
        if (s->claim_steps_only[k])
            return false;
    for (size_t k = 0; k < s->claim_nnames; k++) {
        int32_t got = 0;
        for (size_t i = 0; i < n; i++)
            got += strcmp(jobs[i].name, s->claim_names[k]) == 0;
        if (got >= s->claim_limits[k])
            return false;
    }
    return true;
}

/* A claim committed: dispatch each job to a worker with a free slot for its name. */
static void scheduler_on_claimed(void *arg, const struct jobstore_claimed *jobs, size_t n,
                                 const struct jobstore_err *err)
{
    struct scheduler *s = arg;
    s->claim_inflight = false;
    int64_t asked = s->claim_asked;
    struct worker *w;
    LIST_FOREACH(w, &s->workers, link)
    w->reserved = 0;
    s->drained = err == NULL && !s->claim_again && scheduler_claim_drained(s, jobs, n);
    if (err == NULL)
        scheduler_cursors_advance(s, jobs, n);
    else
        scheduler_cursors_clear(s);
    s->heard_inflight = false;
    scheduler_claim_names_free(s);
    if (err != NULL && err->in_doubt) {
        /* It may have committed: jobs leased to us that no worker got. */
        s->claim_doubt = true;
        log_warn("claim failed: %s; once PostgreSQL answers again, running jobs of this node "
                 "that no worker here runs are handed back, then claims resume",
                 err->message);
        return;
    }
    if (err != NULL) {
        log_warn("claim failed: %s; trying again at the next wake-up or sweep", err->message);
        return;
    }
    int64_t *ids = NULL;
    int32_t *attempts = NULL;
    size_t nunwanted = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(jobs[i].name);
        struct worker *best = NULL;
        LIST_FOREACH(w, &s->workers, link)
        {
            if (s->stopped || w->conn == NULL || w->conn->closed ||
                !worker_serves(w, jobs[i].name, len) || worker_slots_for(w, &jobs[i]) == 0)
                continue;
            if (best == NULL || worker_slots_for(w, &jobs[i]) > worker_slots_for(best, &jobs[i]))
                best = w;
        }
        if (best != NULL) {
            scheduler_dispatch(s, best, &jobs[i]);
            continue;
        }
        if (ids == NULL) {
            ids = malloc(n * sizeof(*ids));
            attempts = malloc(n * sizeof(*attempts));
        }
        if (ids == NULL || attempts == NULL) {
            log_error("out of memory: job %lld is reclaimed after its lease",
                      (long long)jobs[i].id);
            continue;
        }
        ids[nunwanted] = jobs[i].id;
        attempts[nunwanted++] = jobs[i].attempt;
    }
    if (nunwanted > 0 && jobstore_release(s->e->db, s->e->node, ids, attempts, nunwanted, false,
                                          NULL, scheduler_on_unwanted, s) != PGCONN_OK)
        log_warn("cannot hand back %zu claimed job(s); they are reclaimed after the lease",
                 nunwanted);
    free(ids);
    free(attempts);
    /* A full claim may have left more due jobs behind. */
    if (s->claim_again || (n > 0 && (int64_t)n >= asked))
        scheduler_kick_work(s);
    s->claim_again = false;
}

/* Forget the orphans found so far. */
static void scheduler_orphans_reset(struct scheduler *s)
{
    free(s->orphan_ids);
    free(s->orphan_attempts);
    s->orphan_ids = NULL;
    s->orphan_attempts = NULL;
    s->norphans = 0;
}

/* The orphans went back to pending (their attempt not counted): claims may resume. */
static void scheduler_on_orphans_released(void *arg, const struct jobstore_moved *rows, size_t n,
                                          const struct jobstore_err *err)
{
    struct scheduler *s = arg;
    s->orphans_inflight = false;
    if (err != NULL) {
        s->claim_doubt = true;
        log_warn("handing back jobs of a lost claim failed: %s; trying again at the next sweep",
                 err->message);
        return;
    }
    for (size_t i = 0; i < n; i++)
        log_info("job %lld attempt %d handed back: a claim whose reply was lost leased it here, "
                 "no worker got it; now %s",
                 (long long)rows[i].id, rows[i].attempt, jobstore_status_name(rows[i].status));
    scheduler_kick_work(s);
}

/* A page of running jobs (of every node): keep those no worker here runs, then the next
 * page, then hand them back under our lease (the statement leaves other nodes' jobs alone). */
static void scheduler_on_running_listed(void *arg, const struct jobstore_job *jobs, size_t n,
                                        int64_t next, const struct jobstore_err *err)
{
    struct scheduler *s = arg;
    if (err != NULL || s->stopped) {
        s->orphans_inflight = false;
        s->claim_doubt = !s->stopped;
        scheduler_orphans_reset(s);
        if (err != NULL)
            log_warn("looking for jobs of a lost claim failed: %s; trying again at the next "
                     "sweep",
                     err->message);
        return;
    }
    if (n > 0) {
        int64_t *ids = realloc(s->orphan_ids, (s->norphans + n) * sizeof(*ids));
        if (ids != NULL)
            s->orphan_ids = ids;
        int32_t *attempts = realloc(s->orphan_attempts, (s->norphans + n) * sizeof(*attempts));
        if (attempts != NULL)
            s->orphan_attempts = attempts;
        if (ids == NULL || attempts == NULL) {
            log_error("out of memory looking for jobs of a lost claim; they time out and retry");
            s->orphans_inflight = false;
            scheduler_orphans_reset(s);
            scheduler_kick_work(s);
            return;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct running *r = scheduler_find(s, jobs[i].id);
        if (r != NULL && r->attempt == jobs[i].attempt)
            continue;
        /* Ours, executed, its outcome not committed yet (maybe in doubt, being repeated). */
        if (scheduler_acked_find(s, jobs[i].id, jobs[i].attempt) != NULL)
            continue;
        s->orphan_ids[s->norphans] = jobs[i].id;
        s->orphan_attempts[s->norphans++] = jobs[i].attempt;
    }
    if (next > 0) {
        s->orphans_inflight = false;
        scheduler_orphans(s, next);
        return;
    }
    if (s->norphans == 0) {
        s->orphans_inflight = false;
        scheduler_kick_work(s);
        return;
    }
    if (jobstore_release(s->e->db, s->e->node, s->orphan_ids, s->orphan_attempts, s->norphans,
                         false, NULL, scheduler_on_orphans_released, s) != PGCONN_OK) {
        s->orphans_inflight = false;
        s->claim_doubt = true;
        log_warn("cannot hand back the jobs of a lost claim now; trying again at the next sweep");
    }
    scheduler_orphans_reset(s);
}

/* After a lost claim reply: list the running jobs page by page (before: the cursor, 0 for the
 * first page) to find the ones leased here that no worker runs and whose ACK is not on its
 * way. No claim is in flight meanwhile. */
static void scheduler_orphans(struct scheduler *s, int64_t before)
{
    if (s->orphans_inflight || s->stopped || s->e->db == NULL)
        return;
    struct jobstore_filter f = {
        .status = JOBSTORE_RUNNING, .name = NULL, .before = before, .limit = 1000, .parent = 0};
    if (jobstore_list(s->e->db, &f, scheduler_on_running_listed, s) != PGCONN_OK) {
        scheduler_orphans_reset(s);
        s->claim_doubt = true;
        return;
    }
    s->claim_doubt = false;
    s->orphans_inflight = true;
}

/* Claim, for every name served, as many due jobs as the free slots of its workers. */
static void scheduler_claim(struct scheduler *s)
{
    if (s->stopped || s->e->db == NULL)
        return;
    if (s->claim_doubt || s->orphans_inflight) {
        /* The scan takes every unknown running job of ours for a lost one: not while enqueues
         * that create running jobs are out (the last one's answer kicks again). */
        if (s->direct_inflight == 0)
            scheduler_orphans(s, 0);
        return;
    }
    if (s->claim_inflight) {
        s->claim_again = true;
        return;
    }
    size_t cap = 0;
    struct worker *w;
    LIST_FOREACH(w, &s->workers, link)
    if (worker_step_slots(w) > 0)
        cap += w->nnames;
    if (cap == 0)
        return;
    if (cap > SCHED_MAX_CLAIM_NAMES)
        cap = SCHED_MAX_CLAIM_NAMES;
    const char **names = malloc(cap * sizeof(*names));
    int64_t *any = calloc(cap, sizeof(*any));     /* free slots for any job, per name */
    int64_t *steps = calloc(cap, sizeof(*steps)); /* and for steps (lent ones included) */
    int32_t *limits = malloc(cap * sizeof(*limits));
    bool *steps_only = malloc(cap * sizeof(*steps_only));
    struct jobstore_cursor *cursors = malloc(cap * sizeof(*cursors));
    size_t nnames = 0;
    int64_t total = 0, asked = 0;
    if (names == NULL || any == NULL || steps == NULL || limits == NULL || steps_only == NULL ||
        cursors == NULL)
        goto out;
    LIST_FOREACH(w, &s->workers, link)
    {
        uint32_t step_slots = worker_step_slots(w);
        if (step_slots == 0)
            continue;
        total += step_slots;
        for (size_t i = 0; i < w->nnames; i++) {
            size_t k = 0;
            while (k < nnames && strcmp(names[k], w->names[i]) != 0)
                k++;
            if (k == nnames) {
                if (nnames == cap)
                    continue;
                names[nnames++] = w->names[i];
            }
            any[k] += worker_free_slots(w);
            steps[k] += step_slots;
        }
    }
    /* A name with slots for any job asks for that many (steps among them); one with only
     * lent slots asks for steps alone. A full claim claims again (on_claimed), so lent slots
     * left over are filled next. */
    for (size_t k = 0; k < nnames; k++) {
        int64_t l = any[k] > 0 ? any[k] : steps[k];
        limits[k] = l > INT32_MAX ? INT32_MAX : (int32_t)l;
        steps_only[k] = any[k] == 0;
        asked += limits[k];
        const struct cursor *c = scheduler_cursor_find(s, names[k], strlen(names[k]));
        cursors[k] = c != NULL ? c->at : (struct jobstore_cursor){0};
    }
    if (total > INT32_MAX)
        total = INT32_MAX;
    enum pgconn_status st = jobstore_claim(s->e->db, s->e->node, names, limits, steps_only, cursors,
                                           nnames, (int32_t)total, scheduler_on_claimed, s);
    if (st != PGCONN_OK) {
        log_warn("cannot send a claim (status %d); the sweep tries again", (int)st);
        goto out;
    }
    s->claim_inflight = true;
    s->claim_asked = asked < total ? asked : total;
    /* Copies: a worker (and its names) may go while the claim is in flight. Without them the
     * claim's result is simply not taken as drained. */
    s->claim_names = calloc(nnames, sizeof(*s->claim_names));
    s->claim_limits = malloc(nnames * sizeof(*s->claim_limits));
    s->claim_steps_only = malloc(nnames * sizeof(*s->claim_steps_only));
    s->heard_inflight = false;
    if (s->claim_names != NULL && s->claim_limits != NULL && s->claim_steps_only != NULL) {
        s->claim_nnames = nnames;
        for (size_t k = 0; k < nnames; k++) {
            s->claim_limits[k] = limits[k];
            s->claim_steps_only[k] = steps_only[k];
            if ((s->claim_names[k] = strdup(names[k])) == NULL) {
                scheduler_claim_names_free(s);
                break;
            }
        }
    } else {
        scheduler_claim_names_free(s);
    }
    LIST_FOREACH(w, &s->workers, link)
    w->reserved += worker_step_slots(w);
out:
    free(names);
    free(any);
    free(steps);
    free(limits);
    free(steps_only);
    free(cursors);
}

/* Arm the run_at timer for at_ms unless it fires earlier already. */
static void scheduler_arm(struct scheduler *s, int64_t at_ms)
{
    if (s->run_at_armed != 0 && s->run_at_armed <= at_ms)
        return;
    /* Timers count from the loop's cached time, which lags inside callbacks: refresh it,
     * or the timer fires early by however long this turn has run. */
    event_base_update_cache_time(s->e->base);
    int64_t in = at_ms - engine_now_ms() + 1;
    if (in < 0)
        in = 0;
    struct timeval tv = {(time_t)(in / 1000), (suseconds_t)(in % 1000) * 1000};
    if (evtimer_add(s->ev_run_at, &tv) != 0) {
        log_error("cannot arm the run_at timer; the sweep claims instead");
        return;
    }
    s->run_at_armed = at_ms;
    log_debug("run_at timer armed for %lld ms from now", (long long)in);
}

/* The store said when the next future job of our names is due. */
static void scheduler_on_next(void *arg, bool has, int64_t run_at_ms,
                              const struct jobstore_err *err)
{
    struct scheduler *s = arg;
    s->next_inflight = false;
    if (err != NULL) {
        log_warn("looking up the next run_at failed: %s; the sweep looks again", err->message);
        return;
    }
    if (has && !s->stopped)
        scheduler_arm(s, run_at_ms);
    /* Asked again while this one was out: its answer may predate a job that is due sooner
     * (a wake-up that armed nothing because an earlier timer was set relied on this). */
    if (s->next_again) {
        int64_t after = s->next_again_after;
        s->next_again = false;
        s->next_again_after = INT64_MAX;
        scheduler_next_after(s, after == INT64_MAX ? 0 : after);
    }
}

/* Ask the store for the earliest run_at after after_ms (0: after now) of a pending job of the
 * names served here. */
static void scheduler_next_after(struct scheduler *s, int64_t after_ms)
{
    int64_t a = after_ms > 0 ? after_ms : INT64_MAX;
    if (s->next_inflight) {
        s->next_again = true;
        if (a < s->next_again_after)
            s->next_again_after = a;
        return;
    }
    if (s->stopped || s->e->db == NULL)
        return;
    size_t n = 0;
    struct worker *w;
    LIST_FOREACH(w, &s->workers, link)
    n += w->nnames;
    if (n == 0)
        return;
    if (n > SCHED_MAX_CLAIM_NAMES)
        n = SCHED_MAX_CLAIM_NAMES;
    const char **names = malloc(n * sizeof(*names));
    if (names == NULL)
        return;
    size_t k = 0;
    LIST_FOREACH(w, &s->workers, link)
    for (size_t i = 0; i < w->nnames && k < n; i++)
        names[k++] = w->names[i];
    if (jobstore_next_run_at(s->e->db, names, k, after_ms, scheduler_on_next, s) == PGCONN_OK)
        s->next_inflight = true;
    free(names);
}

/* The earliest future run_at of the names served here. */
static void scheduler_next_run_at(struct scheduler *s)
{
    scheduler_next_after(s, 0);
}

/* Add REGISTER's names to c's worker (making it), set the concurrency, answer OK. */
int scheduler_register(struct scheduler *s, struct conn *c, const struct rs_msg *msg)
{
    const struct rs_register *r = &msg->u.reg;
    struct worker *w = c->worker;
    if (w == NULL) {
        w = calloc(1, sizeof(*w));
        if (w == NULL)
            return conn_send_error(c, msg->request_id, RS_E_INTERNAL, true, "out of memory");
        w->conn = c;
        TAILQ_INIT(&w->running);
        LIST_INSERT_HEAD(&s->workers, w, link);
        c->worker = w;
    }
    for (uint32_t i = 0; i < r->nnames; i++) {
        if (worker_serves(w, r->names[i].ptr, r->names[i].len))
            continue;
        char **grown = realloc(w->names, (w->nnames + 1) * sizeof(*grown));
        if (grown == NULL)
            return conn_send_error(c, msg->request_id, RS_E_INTERNAL, true, "out of memory");
        w->names = grown;
        w->names[w->nnames] = strndup(r->names[i].ptr, r->names[i].len);
        if (w->names[w->nnames] == NULL)
            return conn_send_error(c, msg->request_id, RS_E_INTERNAL, true, "out of memory");
        w->nnames++;
    }
    /* Lowering it (0 drains the worker) is safe at any time: what runs stays, free slots
     * count from nrunning, and jobs a claim in flight reserved for it are handed back
     * uncounted when it comes back (scheduler_on_claimed). */
    w->concurrency = (uint32_t)r->concurrency;
    log_info("conn %llu: worker for %zu function(s) (first %s), concurrency %u%s",
             (unsigned long long)c->id, w->nnames, w->names[0], w->concurrency,
             w->concurrency == 0 ? " (draining: no new DISPATCH)" : "");
    struct rs_msg ok;
    memset(&ok, 0, sizeof(ok));
    ok.type = RS_MSG_OK;
    ok.request_id = msg->request_id;
    if (conn_send(c, &ok) != 0)
        return -1;
    scheduler_kick_work(s);
    scheduler_next_run_at(s);
    return 0;
}

/* An ACK arrived: the worker no longer runs that attempt. */
uint32_t scheduler_acked(struct scheduler *s, struct conn *c, int64_t id, int32_t attempt,
                         bool release)
{
    struct running *r = scheduler_find(s, id);
    if (r == NULL || r->attempt != attempt || r->w->conn != c)
        return METRICS_MAX_FUNCTIONS;
    uint32_t fn = r->fn;
    if (!release)
        metrics_attempt(fn, metrics_now_us() - r->started_us);
    running_free(r);
    struct acked *a = malloc(sizeof(*a));
    if (a != NULL) {
        a->id = id;
        a->attempt = attempt;
        LIST_INSERT_HEAD(&s->acked[(uint64_t)id & (SCHED_BUCKETS - 1)], a, link);
    } else {
        log_error("out of memory: job %lld attempt %d, acknowledged, may be handed back after a "
                  "lost claim and run again",
                  (long long)id, attempt);
    }
    /* While stopping, the caller checks the grace once the ACK is in the completer's batch:
     * ending it here would let the release overtake this outcome. */
    if (!s->stopped)
        scheduler_kick_freed(s);
    return fn;
}

/* The outcome of an ACK of id's attempt was committed (applied or stale): forget it. */
void scheduler_ack_settled(struct scheduler *s, int64_t id, int32_t attempt)
{
    struct acked *a = scheduler_acked_find(s, id, attempt);
    if (a != NULL) {
        LIST_REMOVE(a, link);
        free(a);
    }
}

/* New or re-queued work: claim now if due, else remember when. */
void scheduler_wake(struct scheduler *s, const char *name, size_t name_len, int64_t run_at_ms)
{
    if (s->stopped)
        return;
    struct worker *w;
    bool served = false;
    LIST_FOREACH(w, &s->workers, link)
    if (name == NULL || name_len == 0 || worker_serves(w, name, name_len)) {
        served = true;
        break;
    }
    if (!served)
        return;
    if (run_at_ms <= engine_now_ms())
        scheduler_kick_work(s);
    else
        scheduler_arm(s, run_at_ms);
}

/* A job that runs here became final elsewhere (cancelled): tell its worker. */
void scheduler_job_final(struct scheduler *s, int64_t id)
{
    struct running *r = scheduler_find(s, id);
    if (r == NULL)
        return;
    log_info("conn %llu: job %lld attempt %d was cancelled; sending ABANDON cancelled",
             (unsigned long long)r->w->conn->id, (long long)id, r->attempt);
    scheduler_drop(r, RS_ABANDON_CANCELLED);
    scheduler_slot_freed(s);
}

/* Claim now, from the start of every name, and re-arm the run_at timer. */
void scheduler_catch_up(struct scheduler *s)
{
    scheduler_cursors_clear(s);
    /* As a wake-up before every place: a claim in flight read from the cursors just dropped
     * and must not set them again, or the claim kicked here would skip what it is for. */
    scheduler_heard(s, NULL, 0, INT64_MIN, INT64_MIN);
    scheduler_kick_work(s);
    scheduler_next_run_at(s);
}

/* A departed worker's jobs went back to pending (or dead). */
static void scheduler_on_released(void *arg, const struct jobstore_moved *rows, size_t n,
                                  const struct jobstore_err *err)
{
    if (err != NULL) {
        log_warn("releasing a departed worker's jobs failed: %s; they are retried after their "
                 "deadline",
                 err->message);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (rows[i].status == JOBSTORE_DEAD) /* the worker died on the job's last attempt */
            metrics_job_moved(rows[i].name, rows[i].name_len, METRICS_DEAD, false);
        log_info("job %lld attempt %d released (worker gone): now %s", (long long)rows[i].id,
                 rows[i].attempt, jobstore_status_name(rows[i].status));
    }
}

/* The worker's connection closed: its running jobs go back for retry at once. */
void scheduler_conn_closed(struct scheduler *s, struct conn *c)
{
    struct worker *w = c->worker;
    if (w == NULL)
        return;
    size_t n = w->nrunning;
    if (n > 0) {
        int64_t *ids = malloc(n * sizeof(*ids));
        int32_t *attempts = malloc(n * sizeof(*attempts));
        size_t k = 0;
        struct running *r;
        if (ids != NULL && attempts != NULL)
            TAILQ_FOREACH(r, &w->running, link)
            {
                ids[k] = r->id;
                attempts[k++] = r->attempt;
            }
        log_info("conn %llu: worker gone with %zu running job(s); releasing them for retry",
                 (unsigned long long)c->id, n);
        if (k == 0 || jobstore_release(s->e->db, s->e->node, ids, attempts, k, true,
                                       "the worker's connection closed during the attempt",
                                       scheduler_on_released, s) != PGCONN_OK)
            log_warn("conn %llu: cannot release its jobs now; they time out and retry",
                     (unsigned long long)c->id);
        free(ids);
        free(attempts);
    }
    w->conn = NULL;
    c->worker = NULL;
    worker_free(w);
    if (n > 0)
        scheduler_slot_freed(s);
}

/* No more claims from now on. */
void scheduler_stop(struct scheduler *s)
{
    s->stopped = true;
    event_del(s->ev_run_at);
    s->run_at_armed = 0;
}

/* Attempts running here. */
size_t scheduler_running(const struct scheduler *s)
{
    return s->nrunning;
}

/* The stop's release committed (or failed). */
static void scheduler_on_released_all(void *arg, const struct jobstore_moved *rows, size_t n,
                                      const struct jobstore_err *err)
{
    struct scheduler *s = arg;
    if (err != NULL)
        log_warn("handing back running jobs at stop failed: %s; other daemons reclaim them "
                 "after the lease",
                 err->message);
    else
        log_info("handed back %zu running job(s) at stop; they run again elsewhere or later", n);
    if (s->released != NULL)
        s->released(s->released_arg);
}

/* ABANDON shutdown everywhere, then release every running job of this node. */
void scheduler_release_all(struct scheduler *s, void (*done)(void *arg), void *arg)
{
    s->released = done;
    s->released_arg = arg;
    /* Dropping a connection frees its worker: look for the next attempt from the top. */
    for (;;) {
        struct worker *w;
        struct running *r = NULL;
        LIST_FOREACH(w, &s->workers, link)
        if ((r = TAILQ_FIRST(&w->running)) != NULL)
            break;
        if (r == NULL)
            break;
        scheduler_drop(r, RS_ABANDON_SHUTDOWN);
    }
    if (jobstore_release(s->e->db, s->e->node, NULL, NULL, 0, false, NULL,
                         scheduler_on_released_all, s) != PGCONN_OK) {
        log_warn("cannot hand back running jobs at stop; other daemons reclaim them after the "
                 "lease");
        done(arg);
    }
}
