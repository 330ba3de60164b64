/*
 * ENQUEUE batching: the ENQUEUEs that arrive in one loop turn become one jobstore_enqueue
 * (one transaction, one NOTIFY); each is answered ENQUEUED after the commit. A lone request
 * goes out in the same turn, so batching adds no latency.
 */
#include "enqueuer.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "conn.h"
#include "engine.h"
#include "jobstore.h"
#include "log.h"
#include "metrics.h"
#include "request.h"
#include "scheduler.h"

/* A step's derived key, "step:<parent>:<step>", is at most this long (with its NUL). */
#define ENQUEUER_STEP_KEY_MAX (sizeof(RS_STEP_KEY_PREFIX) + 20 + 1 + 10)

/* run_at accepted: year 1 to year 9999, which PostgreSQL's timestamptz holds. */
#define ENQUEUER_RUN_AT_MIN (-62135596800000LL)
#define ENQUEUER_RUN_AT_MAX 253402300799999LL

/* One request in a batch. Owner: its batch. The strings of job point into data. */
struct enqueue_item {
    struct request req;
    struct jobstore_new job;
    char *data;      /* name (NUL-terminated), then key, then args: copies out of the frame */
    uint64_t direct; /* the connection whose worker has a slot reserved for it; 0: none */
};

/* Owner: the enqueuer while filling, then the store callback until it fires. */
struct enqueue_batch {
    TAILQ_ENTRY(enqueue_batch) link; /* in enqueuer.full while waiting to be sent */
    struct enqueuer *q;
    struct enqueue_item *items;
    size_t n;
};

struct enqueuer {
    struct engine *e;                 /* not owned */
    struct enqueue_batch *open;       /* filling; NULL when empty */
    TAILQ_HEAD(, enqueue_batch) full; /* full, waiting for a free in-flight slot */
    struct event *ev_flush;           /* active while open has items not sent */
    int inflight;                     /* batches sent, not yet answered */
};

static void enqueuer_flush(struct enqueuer *q);
static void enqueuer_send(struct enqueuer *q, struct enqueue_batch *b);

/* End of the loop turn (or a batch came back): send what was gathered. */
static void enqueuer_on_flush(evutil_socket_t fd, short what, void *arg)
{
    enqueuer_flush(arg);
}

/* Make an enqueuer. */
struct enqueuer *enqueuer_new(struct engine *e)
{
    struct enqueuer *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return NULL;
    q->e = e;
    TAILQ_INIT(&q->full);
    q->ev_flush = event_new(e->base, -1, 0, enqueuer_on_flush, q);
    if (q->ev_flush == NULL) {
        free(q);
        return NULL;
    }
    return q;
}

/* Release a batch's items. */
static void enqueue_batch_free(struct enqueue_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        (void)request_detach(&b->items[i].req);
        free(b->items[i].data);
    }
    free(b->items);
    free(b);
}

/* Release the enqueuer; a batch still filling is dropped (its clients are gone). */
void enqueuer_free(struct enqueuer *q)
{
    if (q == NULL)
        return;
    if (q->open != NULL)
        enqueue_batch_free(q->open);
    struct enqueue_batch *b;
    while ((b = TAILQ_FIRST(&q->full)) != NULL) {
        TAILQ_REMOVE(&q->full, b, link);
        enqueue_batch_free(b);
    }
    event_free(q->ev_flush);
    free(q);
}

/* Give back the slots reserved for a batch that created nothing running. */
static void enqueuer_unreserve(struct enqueuer *q, struct enqueue_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->items[i].direct != 0) {
            scheduler_unreserve(q->e->scheduler, b->items[i].direct);
            b->items[i].direct = 0;
        }
}

/* A committed item with a reserved slot: DISPATCH the job it created running, or give the
 * slot back (a duplicate created nothing). */
static void enqueuer_dispatch(struct enqueuer *q, struct enqueue_item *it,
                              const struct jobstore_enqueued *out)
{
    if (it->direct == 0)
        return;
    uint64_t conn_id = it->direct;
    it->direct = 0;
    if (!out->claimed) {
        scheduler_unreserve(q->e->scheduler, conn_id);
        return;
    }
    struct jobstore_claimed job = {
        .id = out->id,
        .name = it->job.name,
        .args = it->job.args,
        .args_len = it->job.args_len,
        .attempt = 1,
        .max_attempts = it->job.max_attempts,
        .uncounted = 0,
        .deadline_ms = out->deadline_ms,
        .timeout_ms = it->job.timeout_ms,
        .parent_id = it->job.parent_id,
    };
    scheduler_dispatch_new(q->e->scheduler, conn_id, &job);
}

/* Answer every item with ENQUEUED from the committed rows, and wake the scheduler. */
static void enqueuer_on_done(void *arg, const struct jobstore_enqueued *out, size_t n,
                             const struct jobstore_err *err)
{
    struct enqueue_batch *b = arg;
    struct enqueuer *q = b->q;
    q->inflight--;
    if (err != NULL)
        log_warn("enqueue of %zu job(s) failed: %s; answering each with an error", b->n,
                 err->message);
    else
        log_debug("enqueue of %zu job(s) committed", b->n);
    if (err != NULL) {
        enqueuer_unreserve(q, b);
        if (err->in_doubt)
            for (size_t i = 0; i < b->n; i++)
                if (b->items[i].job.claimed) {
                    scheduler_lease_in_doubt(q->e->scheduler);
                    break;
                }
    }
    for (size_t i = 0; i < b->n && err == NULL; i++)
        enqueuer_dispatch(q, &b->items[i], &out[i]);
    for (size_t i = 0; i < b->n; i++) {
        struct enqueue_item *it = &b->items[i];
        if (err == NULL)
            metrics_job(metrics_fn_id(it->job.name, it->job.name_len),
                        out[i].deduplicated ? METRICS_DEDUPLICATED : METRICS_ENQUEUED);
        if (err == NULL && ((!out[i].deduplicated && !out[i].claimed) || out[i].revived)) {
            /* Its wake-up comes on the LISTEN session, maybe after the next claim: tell the
             * scheduler where the job sits now (run_at is whole milliseconds), so that a
             * claim cursor past it is dropped before that claim. */
            scheduler_heard(q->e->scheduler, it->job.name, it->job.name_len,
                            out[i].run_at_ms * 1000, out[i].id);
            scheduler_wake(q->e->scheduler, it->job.name, it->job.name_len, out[i].run_at_ms);
        }
        if (err == NULL && out[i].revived)
            log_info("job %lld: a dead or cancelled step, called again by its parent, is pending",
                     (long long)out[i].id);
        struct conn *c = request_detach(&it->req);
        if (c == NULL)
            continue;
        if (err != NULL) {
            if (engine_reply_store_error(c, it->req.id, "ENQUEUE", err) != 0)
                continue;
            continue;
        }
        struct rs_msg m;
        memset(&m, 0, sizeof(m));
        m.type = RS_MSG_ENQUEUED;
        m.request_id = it->req.id;
        m.u.enqueued.job = (uint64_t)out[i].id;
        m.u.enqueued.deduplicated = out[i].deduplicated;
        if (conn_send(c, &m) != 0)
            continue;
    }
    enqueue_batch_free(b);
    if (q->open != NULL || !TAILQ_EMPTY(&q->full))
        event_active(q->ev_flush, 0, 0);
}

/* Send batches, oldest first, while fewer than ENQUEUER_MAX_INFLIGHT are in flight. */
static void enqueuer_flush(struct enqueuer *q)
{
    while (q->inflight < ENQUEUER_MAX_INFLIGHT) {
        struct enqueue_batch *b = TAILQ_FIRST(&q->full);
        if (b != NULL) {
            TAILQ_REMOVE(&q->full, b, link);
        } else if (q->open != NULL) {
            b = q->open;
            q->open = NULL;
        } else {
            return;
        }
        enqueuer_send(q, b);
    }
}

/* Send one batch; a refused submit answers each of its requests with an error. */
static void enqueuer_send(struct enqueuer *q, struct enqueue_batch *b)
{
    struct jobstore_new *jobs = malloc(b->n * sizeof(*jobs));
    enum pgconn_status st = PGCONN_NOMEM;
    if (jobs != NULL) {
        for (size_t i = 0; i < b->n; i++) {
            /* Due now and a local worker free: create it running, no claim needed. */
            struct enqueue_item *it = &b->items[i];
            if (!it->job.has_run_at && it->job.delay_ms == 0)
                it->direct = scheduler_reserve(q->e->scheduler, it->job.name, it->job.name_len,
                                               it->job.parent_id > 0);
            it->job.claimed = it->direct != 0;
            jobs[i] = it->job;
        }
        st = jobstore_enqueue(q->e->db, q->e->node, jobs, b->n, enqueuer_on_done, b);
        free(jobs);
    }
    if (st == PGCONN_OK) {
        q->inflight++;
        return;
    }
    log_warn("cannot send an enqueue of %zu job(s) (status %d); answering each with an error", b->n,
             (int)st);
    enqueuer_unreserve(q, b);
    for (size_t i = 0; i < b->n; i++) {
        struct conn *c = request_detach(&b->items[i].req);
        if (c != NULL && engine_reply_submit_error(c, b->items[i].req.id, "ENQUEUE", (int)st) != 0)
            continue;
    }
    enqueue_batch_free(b);
}

/* Options the decoder cannot check alone; NULL when fine, else why not. */
static const char *enqueuer_check(const struct rs_enqueue *r)
{
    if ((r->has & RS_HAS_RUN_AT) &&
        (r->run_at < ENQUEUER_RUN_AT_MIN || r->run_at > ENQUEUER_RUN_AT_MAX))
        return "run_at: out of range (year 1 to 9999)";
    if (r->args.len > 0x7fffffffu)
        return "args: too large";
    return NULL;
}

/* Copy one request into a batch item. Returns 0, or -1 when memory ran out. */
static int enqueuer_fill(struct enqueue_item *it, const struct rs_enqueue *r)
{
    bool step = (r->has & RS_HAS_PARENT) != 0;
    size_t klen = r->key.ptr != NULL ? r->key.len : step ? ENQUEUER_STEP_KEY_MAX : 0;
    it->data = malloc((size_t)r->name.len + 1 + klen + r->args.len + 1);
    if (it->data == NULL)
        return -1;
    char *p = it->data;
    memcpy(p, r->name.ptr, r->name.len);
    p[r->name.len] = '\0';
    jobstore_new_defaults(&it->job, p, r->name.len);
    p += r->name.len + 1;
    if (r->key.ptr != NULL) {
        memcpy(p, r->key.ptr, klen);
        it->job.key = p;
        it->job.key_len = klen;
        p += klen;
    } else if (step) {
        /* A step's identity: its parent and position, unless the caller named it. */
        int len = snprintf(p, ENQUEUER_STEP_KEY_MAX, RS_STEP_KEY_PREFIX "%llu:%llu",
                           (unsigned long long)r->parent, (unsigned long long)r->step);
        it->job.key = p;
        it->job.key_len = (size_t)len;
        p += len;
    }
    if (r->args.len > 0)
        memcpy(p, r->args.ptr, r->args.len);
    it->job.args = p;
    it->job.args_len = r->args.len;
    /* The decoder filled the protocol defaults of absent fields. */
    it->job.max_attempts = (int32_t)r->max_attempts;
    it->job.backoff = (enum jobstore_backoff)r->backoff;
    it->job.initial_delay_ms = (int64_t)r->initial_delay_ms;
    it->job.max_delay_ms = (int64_t)r->max_delay_ms;
    it->job.jitter = (float)r->jitter;
    it->job.timeout_ms = (int32_t)r->timeout_ms;
    it->job.priority = (int16_t)r->priority;
    it->job.has_run_at = (r->has & RS_HAS_RUN_AT) != 0;
    it->job.run_at_ms = r->run_at;
    it->job.delay_ms = (int64_t)r->delay_ms;
    if (step) {
        it->job.parent_id = (int64_t)r->parent;
        it->job.step = (int32_t)r->step;
    }
    return 0;
}

/* Validate, copy, and join the open batch. */
int enqueuer_add(struct enqueuer *q, struct conn *c, const struct rs_msg *msg)
{
    const struct rs_enqueue *r = &msg->u.enqueue;
    const char *why = enqueuer_check(r);
    if (why != NULL)
        return conn_send_error(c, msg->request_id, RS_E_BAD_VALUE, false, "%s", why);
    if (q->open == NULL) {
        q->open = calloc(1, sizeof(*q->open));
        if (q->open != NULL)
            q->open->items = calloc(ENQUEUER_MAX_BATCH, sizeof(*q->open->items));
        if (q->open == NULL || q->open->items == NULL) {
            free(q->open);
            q->open = NULL;
            return conn_send_error(c, msg->request_id, RS_E_INTERNAL, true, "out of memory");
        }
        q->open->q = q;
    }
    struct enqueue_batch *b = q->open;
    struct enqueue_item *it = &b->items[b->n];
    memset(it, 0, sizeof(*it));
    if (enqueuer_fill(it, r) != 0)
        return conn_send_error(c, msg->request_id, RS_E_INTERNAL, true, "out of memory");
    request_attach(&it->req, c, msg->request_id);
    b->n++;
    if (b->n == ENQUEUER_MAX_BATCH) {
        TAILQ_INSERT_TAIL(&q->full, b, link);
        q->open = NULL;
        enqueuer_flush(q);
    } else {
        event_active(q->ev_flush, 0, 0);
    }
    return 0;
}
