/*
 * AWAIT: the clients waiting for jobs to become final, by job id. A final job is answered at
 * once; otherwise the waiter stays until the job ends here (ACK) or anywhere (the completion
 * NOTIFY, then a GET), its timeout passes, or its connection closes. Bounded per connection
 * and in all.
 */
#include "waiters.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "conn.h"
#include "engine.h"
#include "log.h"
#include "scheduler.h"

/* Hash buckets by job id (a power of two). */
#define WAITERS_BUCKETS 4096u

/* Owner: the waiters table; on its bucket's list and its connection's list. */
struct waiter {
    LIST_ENTRY(waiter) bucket;     /* in waiters.buckets[job % WAITERS_BUCKETS] */
    TAILQ_ENTRY(waiter) conn_link; /* in conn.waiters */
    struct waiters *w;
    struct conn *conn; /* not owned */
    uint32_t rid;
    int64_t job;
    struct event *ev_timeout; /* NULL: waits until final */
    /* AWAIT waiter: a job running on conn that waits here; while it does, it holds no slot
     * of its worker's concurrency (scheduler_wait_begin). */
    int64_t waiter;
    int32_t waiter_attempt;
    bool lends_slot;
};

LIST_HEAD(waiter_list, waiter);

struct waiters {
    struct engine *e; /* not owned */
    struct waiter_list buckets[WAITERS_BUCKETS];
    size_t count;
    /* Jobs to look up at the end of this loop turn, all in one statement (or a few). */
    int64_t *lookups;
    size_t nlookups, lookups_cap;
    struct event *ev_lookup;
};

/* A lookup in flight: the ids asked for. Owner: the store callback. */
struct waiters_batch {
    struct waiters *w;
    size_t n;
    int64_t ids[];
};

static void waiters_on_lookup(evutil_socket_t fd, short what, void *arg);

/* Make the table. */
struct waiters *waiters_new(struct engine *e)
{
    struct waiters *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->e = e;
    for (size_t i = 0; i < WAITERS_BUCKETS; i++)
        LIST_INIT(&w->buckets[i]);
    w->ev_lookup = event_new(e->base, -1, 0, waiters_on_lookup, w);
    if (w->ev_lookup == NULL) {
        free(w);
        return NULL;
    }
    return w;
}

/* The bucket of a job id. */
static struct waiter_list *waiters_bucket(struct waiters *w, int64_t job)
{
    return &w->buckets[(uint64_t)job & (WAITERS_BUCKETS - 1)];
}

/* Unlink and free one waiter (its reply was sent or is dropped). */
static void waiter_free(struct waiter *x)
{
    if (x->lends_slot)
        scheduler_wait_end(x->w->e->scheduler, x->waiter, x->waiter_attempt);
    LIST_REMOVE(x, bucket);
    if (x->conn != NULL) {
        TAILQ_REMOVE(&x->conn->waiters, x, conn_link);
        x->conn->nwaiters--;
    }
    if (x->ev_timeout != NULL)
        event_free(x->ev_timeout);
    x->w->count--;
    free(x);
}

/* Release everything (the connections are gone already). */
void waiters_free(struct waiters *w)
{
    if (w == NULL)
        return;
    for (size_t i = 0; i < WAITERS_BUCKETS; i++) {
        struct waiter *x;
        while ((x = LIST_FIRST(&w->buckets[i])) != NULL) {
            x->lends_slot = false; /* the scheduler may be gone already */
            waiter_free(x);
        }
    }
    event_free(w->ev_lookup);
    free(w->lookups);
    free(w);
}

/* Send COMPLETED for f with request id rid. */
static int waiters_send_completed(struct conn *c, uint32_t rid, const struct waiters_final *f)
{
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_COMPLETED;
    m.request_id = rid;
    m.u.completed.job = (uint64_t)f->id;
    m.u.completed.status = (enum rs_status)f->status;
    m.u.completed.attempt = f->attempt > 0 ? (uint64_t)f->attempt : 0;
    if (f->has_result)
        m.u.completed.result = (struct rs_bytes){f->result != NULL ? f->result : (const void *)"",
                                                 (uint32_t)f->result_len};
    if (f->status == JOBSTORE_DEAD && f->error != NULL)
        m.u.completed.error = (struct rs_str){f->error, (uint32_t)f->error_len};
    return conn_send(c, &m);
}

/* Answer every waiter of f->id. */
void waiters_job_final(struct waiters *w, const struct waiters_final *f)
{
    struct waiter_list *b = waiters_bucket(w, f->id);
    struct waiter *x = LIST_FIRST(b), *next;
    for (; x != NULL; x = next) {
        next = LIST_NEXT(x, bucket);
        if (x->job != f->id)
            continue;
        struct conn *c = x->conn;
        uint32_t rid = x->rid;
        waiter_free(x);
        if (c != NULL && !c->closed && waiters_send_completed(c, rid, f) != 0)
            log_debug("conn %llu: dropped while sending COMPLETED of job %lld",
                      (unsigned long long)c->id, (long long)f->id);
        /* A dropped connection freed its other waiters: start over from the bucket. */
        next = LIST_FIRST(b);
    }
}

/* Answer every waiter of job with ERROR code. */
static void waiters_fail_job(struct waiters *w, int64_t job, enum rs_code code, const char *text)
{
    struct waiter_list *b = waiters_bucket(w, job);
    struct waiter *x = LIST_FIRST(b), *next;
    for (; x != NULL; x = next) {
        next = LIST_NEXT(x, bucket);
        if (x->job != job)
            continue;
        struct conn *c = x->conn;
        uint32_t rid = x->rid;
        waiter_free(x);
        if (c != NULL && !c->closed &&
            conn_send_error(c, rid, code, code == RS_E_UNAVAILABLE, "job %lld: %s", (long long)job,
                            text) != 0)
            log_debug("conn %llu: dropped while answering an AWAIT", (unsigned long long)c->id);
        next = LIST_FIRST(b);
    }
}

/* True when someone waits for job. */
static bool waiters_has(struct waiters *w, int64_t job)
{
    struct waiter *x;
    LIST_FOREACH(x, waiters_bucket(w, job), bucket)
    if (x->job == job)
        return true;
    return false;
}

/* A lookup came back: answer the waiters of final jobs and of unknown ones. */
static void waiters_on_finals(void *arg, const struct jobstore_final *rows, size_t n,
                              const struct jobstore_err *err)
{
    struct waiters_batch *b = arg;
    struct waiters *w = b->w;
    if (err != NULL) {
        /* Still waiting: the sweep after the next reconnect looks again. */
        log_warn("looking up %zu awaited job(s) failed: %s; their waiters keep waiting", b->n,
                 err->message);
        free(b);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct jobstore_final *r = &rows[i];
        /* Mark it seen (-1: ids are never negative). */
        for (size_t k = 0; k < b->n; k++)
            if (b->ids[k] == r->id)
                b->ids[k] = -1;
        if (r->status != JOBSTORE_SUCCESS && r->status != JOBSTORE_DEAD &&
            r->status != JOBSTORE_CANCELLED)
            continue;
        struct waiters_final f = {
            .id = r->id,
            .status = r->status,
            .attempt = r->attempt,
            .has_result = r->has_result,
            .result = r->result,
            .result_len = r->result_len,
            .error = r->error,
            .error_len = r->error != NULL ? strlen(r->error) : 0,
        };
        waiters_job_final(w, &f);
    }
    for (size_t k = 0; k < b->n; k++)
        if (b->ids[k] >= 0)
            waiters_fail_job(w, b->ids[k], RS_E_NOT_FOUND, "no such job");
    free(b);
}

/* End of the loop turn: look up every job gathered, JOBSTORE_MAX_FINALS per statement. */
static void waiters_on_lookup(evutil_socket_t fd, short what, void *arg)
{
    struct waiters *w = arg;
    while (w->nlookups > 0) {
        size_t n = w->nlookups < JOBSTORE_MAX_FINALS ? w->nlookups : JOBSTORE_MAX_FINALS;
        const int64_t *ids = w->lookups + (w->nlookups - n);
        struct waiters_batch *b = malloc(sizeof(*b) + n * sizeof(b->ids[0]));
        enum pgconn_status st = PGCONN_NOMEM;
        if (b != NULL) {
            b->w = w;
            b->n = n;
            memcpy(b->ids, ids, n * sizeof(b->ids[0]));
            st = jobstore_finals(w->e->db, b->ids, n, waiters_on_finals, b);
        }
        w->nlookups -= n;
        if (st == PGCONN_OK)
            continue;
        free(b);
        /* Answer them now (this may close connections and free waiters: ids are copies). */
        int64_t *copy = malloc(n * sizeof(*copy));
        if (copy == NULL) {
            log_error("out of memory: %zu AWAIT(s) wait for the next notification", n);
            continue;
        }
        memcpy(copy, ids, n * sizeof(*copy));
        for (size_t i = 0; i < n; i++)
            waiters_fail_job(w, copy[i], st == PGCONN_NOMEM ? RS_E_INTERNAL : RS_E_UNAVAILABLE,
                             st == PGCONN_NOMEM ? "out of memory"
                                                : "the store cannot take the lookup now");
        free(copy);
    }
}

/* Look job up at the end of this loop turn; its waiters are answered when it is final. */
static void waiters_lookup(struct waiters *w, int64_t job)
{
    if (w->nlookups == w->lookups_cap) {
        size_t cap = w->lookups_cap == 0 ? 64 : w->lookups_cap * 2;
        int64_t *grown = realloc(w->lookups, cap * sizeof(*grown));
        if (grown == NULL) {
            waiters_fail_job(w, job, RS_E_INTERNAL, "out of memory");
            return;
        }
        w->lookups = grown;
        w->lookups_cap = cap;
    }
    w->lookups[w->nlookups++] = job;
    event_active(w->ev_lookup, 0, 0);
}

/* An AWAIT's timeout passed. */
static void waiters_on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct waiter *x = arg;
    struct conn *c = x->conn;
    uint32_t rid = x->rid;
    int64_t job = x->job;
    waiter_free(x);
    if (c != NULL && !c->closed &&
        conn_send_error(c, rid, RS_E_TIMEOUT, true, "job %lld is not final yet", (long long)job) !=
            0)
        log_debug("conn %llu: dropped while answering an AWAIT", (unsigned long long)c->id);
}

/* Register the waiter first, then look the job up: a completion between the two is not lost. */
int waiters_await(struct waiters *w, struct conn *c, const struct rs_msg *msg)
{
    const struct rs_job_ref *r = &msg->u.ref;
    if (r->job > INT64_MAX)
        return conn_send_error(c, msg->request_id, RS_E_NOT_FOUND, false, "no job %llu",
                               (unsigned long long)r->job);
    if (c->nwaiters >= WAITERS_MAX_PER_CONN || w->count >= WAITERS_MAX)
        return conn_send_error(c, msg->request_id, RS_E_LIMIT, true,
                               "too many AWAITs waiting (%u on this connection, %zu in all)",
                               c->nwaiters, w->count);
    struct waiter *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return conn_send_error(c, msg->request_id, RS_E_INTERNAL, true, "out of memory");
    x->w = w;
    x->conn = c;
    x->rid = msg->request_id;
    x->job = (int64_t)r->job;
    if (r->has & RS_HAS_AWAIT_TIMEOUT) {
        uint64_t ms = r->timeout_ms > 86400000ull * 365 ? 86400000ull * 365 : r->timeout_ms;
        struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
        x->ev_timeout = evtimer_new(w->e->base, waiters_on_timeout, x);
        if (x->ev_timeout == NULL || evtimer_add(x->ev_timeout, &tv) != 0) {
            if (x->ev_timeout != NULL)
                event_free(x->ev_timeout);
            free(x);
            return conn_send_error(c, msg->request_id, RS_E_INTERNAL, true, "out of memory");
        }
    }
    LIST_INSERT_HEAD(waiters_bucket(w, x->job), x, bucket);
    TAILQ_INSERT_TAIL(&c->waiters, x, conn_link);
    c->nwaiters++;
    w->count++;
    if ((r->has & RS_HAS_WAITER) && r->waiter <= INT64_MAX && r->waiter_attempt <= INT32_MAX &&
        (int64_t)r->waiter != x->job) {
        x->waiter = (int64_t)r->waiter;
        x->waiter_attempt = (int32_t)r->waiter_attempt;
        x->lends_slot = scheduler_wait_begin(w->e->scheduler, x->waiter, x->waiter_attempt);
    }
    waiters_lookup(w, x->job);
    return c->closed ? -1 : 0;
}

/* Look up those of ids that somebody awaits. */
void waiters_jobs_done(struct waiters *w, const int64_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (waiters_has(w, ids[i]))
            waiters_lookup(w, ids[i]);
}

/* Look up every awaited job once. */
void waiters_recheck(struct waiters *w)
{
    if (w->count == 0)
        return;
    log_info("re-checking %zu AWAIT(s): completions may have been missed", w->count);
    /* Ids first: a failed lookup answers (and frees) waiters, which the walk must not see. */
    int64_t *ids = malloc(w->count * sizeof(*ids));
    if (ids == NULL) {
        log_error("out of memory re-checking AWAITs; they wait for the next notification");
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < WAITERS_BUCKETS; i++) {
        struct waiter *x, *y;
        LIST_FOREACH(x, &w->buckets[i], bucket)
        {
            bool seen = false;
            for (y = LIST_FIRST(&w->buckets[i]); y != x; y = LIST_NEXT(y, bucket))
                if (y->job == x->job)
                    seen = true;
            if (!seen)
                ids[n++] = x->job;
        }
    }
    for (size_t i = 0; i < n; i++)
        waiters_lookup(w, ids[i]);
    free(ids);
}

/* Drop the waiters of a closing connection. */
void waiters_conn_closed(struct waiters *w, struct conn *c)
{
    struct waiter *x;
    while ((x = TAILQ_FIRST(&c->waiters)) != NULL)
        waiter_free(x);
}

/* Answer every waiter with shutting_down. */
void waiters_shutdown(struct waiters *w)
{
    for (size_t i = 0; i < WAITERS_BUCKETS; i++) {
        struct waiter *x;
        while ((x = LIST_FIRST(&w->buckets[i])) != NULL) {
            struct conn *c = x->conn;
            uint32_t rid = x->rid;
            waiter_free(x);
            if (c != NULL && !c->closed &&
                conn_send_error(c, rid, RS_E_SHUTTING_DOWN, true, "the daemon is stopping") != 0)
                log_debug("conn %llu: dropped while answering an AWAIT", (unsigned long long)c->id);
        }
    }
}

/* Waiters registered now. */
size_t waiters_count(const struct waiters *w)
{
    return w->count;
}
