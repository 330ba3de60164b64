/*
 * ACK batching: the ACKs that arrive in one loop turn become one jobstore_complete (one
 * UPDATE over arrays, fenced by attempt and lease), and their releases one jobstore_release
 * (not counted); each is answered OK after the commit, or ERROR stale_attempt when the fence
 * rejected it. Waiters of finished jobs get COMPLETED.
 */
#include "completer.h"

#include <event2/event.h>
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
#include "waiters.h"

/* One ACK in a batch. Owner: its batch. out's result and error point into data. */
struct complete_item {
    struct request req;
    struct jobstore_outcome out;
    char *data;   /* result or error bytes copied out of the request's frame; NULL if none */
    uint32_t fn;  /* the function's row in the metrics */
    bool release; /* ACK release: hand the attempt back, not counted */
};

/* Owner: the completer while filling or waiting, then the store callback. */
struct complete_batch {
    TAILQ_ENTRY(complete_batch) link; /* in completer.full while waiting to be sent */
    struct completer *k;
    struct complete_item *items;
    size_t n;
    int statements; /* complete and release statements sent and not yet answered */
};

struct completer {
    struct engine *e;                  /* not owned */
    struct complete_batch *open;       /* filling; NULL when empty */
    TAILQ_HEAD(, complete_batch) full; /* waiting for a free in-flight slot */
    struct event *ev_flush;
    int inflight;
};

static void completer_flush(struct completer *k);

/* End of the loop turn (or a batch came back): send what was gathered. */
static void completer_on_flush(evutil_socket_t fd, short what, void *arg)
{
    completer_flush(arg);
}

/* Make a completer. */
struct completer *completer_new(struct engine *e)
{
    struct completer *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return NULL;
    k->e = e;
    TAILQ_INIT(&k->full);
    k->ev_flush = event_new(e->base, -1, 0, completer_on_flush, k);
    if (k->ev_flush == NULL) {
        free(k);
        return NULL;
    }
    return k;
}

/* Release a batch and its copies. */
static void complete_batch_free(struct complete_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        (void)request_detach(&b->items[i].req);
        free(b->items[i].data);
    }
    free(b->items);
    free(b);
}

/* Release the completer and the batches it still holds. */
void completer_free(struct completer *k)
{
    if (k == NULL)
        return;
    if (k->open != NULL)
        complete_batch_free(k->open);
    struct complete_batch *b;
    while ((b = TAILQ_FIRST(&k->full)) != NULL) {
        TAILQ_REMOVE(&k->full, b, link);
        complete_batch_free(b);
    }
    event_free(k->ev_flush);
    free(k);
}

/* The moved row for job id, or NULL when its outcome was stale. */
static const struct jobstore_moved *completer_find(const struct jobstore_moved *rows, size_t n,
                                                   int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].id == id)
            return &rows[i];
    return NULL;
}

/* Answer one ACK from the committed rows; push COMPLETED to the job's waiters. */
static void completer_answer(struct completer *k, struct complete_item *it,
                             const struct jobstore_moved *row)
{
    if (row != NULL && !it->release) {
        metrics_job(it->fn, it->out.ok ? METRICS_SUCCEEDED : METRICS_FAILED);
        if (row->status == JOBSTORE_DEAD)
            metrics_job(it->fn, METRICS_DEAD);
    }
    if (row != NULL && row->status != JOBSTORE_PENDING && !it->release) {
        struct waiters_final f = {
            .id = it->out.id,
            .status = row->status,
            .attempt = row->attempt,
            .result = it->out.ok ? it->out.result : NULL,
            .result_len = it->out.ok ? it->out.result_len : 0,
            .has_result = it->out.ok,
            .error = it->out.ok ? NULL : it->out.error,
            .error_len = it->out.ok ? 0 : it->out.error_len,
        };
        waiters_job_final(k->e->waiters, &f);
    }
    struct conn *c = request_detach(&it->req);
    if (c == NULL)
        return;
    if (row == NULL) {
        log_info("conn %llu: ACK of job %lld attempt %d is stale: the attempt is no longer "
                 "current; nothing changed",
                 (unsigned long long)c->id, (long long)it->out.id, it->out.attempt);
        if (conn_send_error(c, it->req.id, RS_E_STALE, false,
                            "job %lld attempt %d is no longer current (timed out, cancelled or "
                            "released); nothing changed",
                            (long long)it->out.id, it->out.attempt) != 0)
            return;
        return;
    }
    if (it->release)
        log_info("conn %llu: job %lld attempt %d handed back by its worker: now %s, not counted",
                 (unsigned long long)c->id, (long long)row->id, row->attempt,
                 jobstore_status_name(row->status));
    else
        log_debug("conn %llu: job %lld attempt %d -> %s", (unsigned long long)c->id,
                  (long long)row->id, row->attempt, jobstore_status_name(row->status));
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_OK;
    m.request_id = it->req.id;
    if (conn_send(c, &m) != 0)
        return;
}

/* One statement of a batch is over; after the last, the batch's slot is free. */
static void completer_batch_done(struct complete_batch *b)
{
    struct completer *k = b->k;
    if (--b->statements > 0)
        return;
    k->inflight--;
    complete_batch_free(b);
    if (k->open != NULL || !TAILQ_EMPTY(&k->full))
        event_active(k->ev_flush, 0, 0);
    else if (k->inflight == 0)
        engine_stop_check(k->e);
}

/* One statement of b committed (or failed): answer its ACKs (the releases or the others). */
static void completer_answer_all(struct complete_batch *b, bool release,
                                 const struct jobstore_moved *rows, size_t n,
                                 const struct jobstore_err *err)
{
    for (size_t i = 0; i < b->n; i++) {
        struct complete_item *it = &b->items[i];
        if (it->release != release)
            continue;
        if (err == NULL) {
            scheduler_ack_settled(b->k->e->scheduler, it->out.id, it->out.attempt);
            completer_answer(b->k, it, completer_find(rows, n, it->out.id));
            continue;
        }
        struct conn *c = request_detach(&it->req);
        if (c != NULL && engine_reply_store_error(c, it->req.id, "ACK", err) != 0)
            continue;
    }
}

/* The batch's outcomes committed (or failed): answer them. */
static void completer_on_done(void *arg, const struct jobstore_moved *rows, size_t n,
                              const struct jobstore_err *err)
{
    struct complete_batch *b = arg;
    if (err != NULL)
        log_warn("recording outcomes failed: %s; answering each with an error", err->message);
    completer_answer_all(b, false, rows, n, err);
    completer_batch_done(b);
}

/* The batch's releases committed (or failed): answer them. */
static void completer_on_released(void *arg, const struct jobstore_moved *rows, size_t n,
                                  const struct jobstore_err *err)
{
    struct complete_batch *b = arg;
    if (err != NULL)
        log_warn("handing back released attempts failed: %s; answering each with an error",
                 err->message);
    completer_answer_all(b, true, rows, n, err);
    completer_batch_done(b);
}

bool completer_idle(const struct completer *k)
{
    return k->open == NULL && TAILQ_EMPTY(&k->full) && k->inflight == 0;
}

/* Answer the ACKs of b that are (or are not) releases with a refused submit's error. */
static void completer_refuse(struct complete_batch *b, bool release, enum pgconn_status st)
{
    for (size_t i = 0; i < b->n; i++) {
        struct complete_item *it = &b->items[i];
        if (it->release != release)
            continue;
        struct conn *c = request_detach(&it->req);
        if (c != NULL && engine_reply_submit_error(c, it->req.id, "ACK", (int)st) != 0)
            continue;
    }
}

/* Send one batch: its outcomes as one statement, its releases as another. A refused submit
 * answers each of its requests with an error. */
static void completer_send(struct completer *k, struct complete_batch *b)
{
    struct jobstore_outcome *outs = malloc(b->n * sizeof(*outs));
    int64_t *ids = malloc(b->n * sizeof(*ids));
    int32_t *attempts = malloc(b->n * sizeof(*attempts));
    size_t nouts = 0, nrel = 0;
    enum pgconn_status st = PGCONN_NOMEM, rst = PGCONN_NOMEM;
    if (outs != NULL && ids != NULL && attempts != NULL) {
        for (size_t i = 0; i < b->n; i++) {
            if (!b->items[i].release) {
                outs[nouts++] = b->items[i].out;
                continue;
            }
            ids[nrel] = b->items[i].out.id;
            attempts[nrel++] = b->items[i].out.attempt;
        }
        /* One more than the statements sent, so that no callback frees b before both went. */
        b->statements = 1;
        if (nouts > 0) {
            st = jobstore_complete(k->e->db, k->e->node, outs, nouts, completer_on_done, b);
            if (st == PGCONN_OK)
                b->statements++;
        }
        if (nrel > 0) {
            rst = jobstore_release(k->e->db, k->e->node, ids, attempts, nrel, false, NULL,
                                   completer_on_released, b);
            if (rst == PGCONN_OK)
                b->statements++;
        }
    } else {
        nouts = nrel = 1; /* answer every item with the error */
    }
    free(outs);
    free(ids);
    free(attempts);
    if (nouts > 0 && st != PGCONN_OK) {
        log_warn("cannot send outcomes (status %d); answering each with an error", (int)st);
        completer_refuse(b, false, st);
    }
    if (nrel > 0 && rst != PGCONN_OK) {
        log_warn("cannot send releases (status %d); answering each with an error", (int)rst);
        completer_refuse(b, true, rst);
    }
    k->inflight++;
    completer_batch_done(b);
}

/* Send batches, oldest first, while fewer than COMPLETER_MAX_INFLIGHT are in flight. */
static void completer_flush(struct completer *k)
{
    while (k->inflight < COMPLETER_MAX_INFLIGHT) {
        struct complete_batch *b = TAILQ_FIRST(&k->full);
        if (b != NULL) {
            TAILQ_REMOVE(&k->full, b, link);
        } else if (k->open != NULL) {
            b = k->open;
            k->open = NULL;
        } else {
            return;
        }
        completer_send(k, b);
    }
}

/* True when the open batch has an outcome for job id already. */
static bool completer_has(const struct complete_batch *b, int64_t id)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->items[i].out.id == id)
            return true;
    return false;
}

/* Close the open batch: it waits in the full list for its turn. */
static void completer_close_open(struct completer *k)
{
    TAILQ_INSERT_TAIL(&k->full, k->open, link);
    k->open = NULL;
}

/* Copy one ACK and join the open batch (one outcome per job in a batch). */
int completer_add(struct completer *k, struct conn *c, const struct rs_msg *msg, uint32_t fn)
{
    const struct rs_ack *a = &msg->u.ack;
    if (a->job > INT64_MAX || a->attempt > INT32_MAX)
        return conn_send_error(c, msg->request_id, RS_E_STALE, false,
                               "job %llu attempt %llu was never dispatched",
                               (unsigned long long)a->job, (unsigned long long)a->attempt);
    if (k->open != NULL && completer_has(k->open, (int64_t)a->job))
        completer_close_open(k);
    if (k->open == NULL) {
        k->open = calloc(1, sizeof(*k->open));
        if (k->open != NULL)
            k->open->items = calloc(COMPLETER_MAX_BATCH, sizeof(*k->open->items));
        if (k->open == NULL || k->open->items == NULL) {
            free(k->open);
            k->open = NULL;
            return conn_send_error(c, msg->request_id, RS_E_INTERNAL, true, "out of memory");
        }
        k->open->k = k;
    }
    struct complete_batch *b = k->open;
    struct complete_item *it = &b->items[b->n];
    memset(it, 0, sizeof(*it));
    it->out.id = (int64_t)a->job;
    it->out.attempt = (int32_t)a->attempt;
    it->out.ok = a->ok;
    it->release = (a->has & RS_HAS_RELEASE) && a->release;
    it->fn = fn;
    it->out.retryable = (a->has & RS_HAS_RETRYABLE) ? a->retryable : true;
    const void *src = a->ok ? (const void *)a->result.ptr : (const void *)a->error.ptr;
    size_t len = a->ok ? a->result.len : a->error.len;
    if (src != NULL) {
        it->data = malloc(len + 1);
        if (it->data == NULL)
            return conn_send_error(c, msg->request_id, RS_E_INTERNAL, true, "out of memory");
        memcpy(it->data, src, len);
        it->data[len] = '\0';
        if (a->ok) {
            it->out.result = it->data;
            it->out.result_len = len;
        } else {
            it->out.error = it->data;
            it->out.error_len = len;
        }
    }
    request_attach(&it->req, c, msg->request_id);
    b->n++;
    if (b->n == COMPLETER_MAX_BATCH) {
        completer_close_open(k);
        completer_flush(k);
    } else {
        event_active(k->ev_flush, 0, 0);
    }
    return 0;
}
