/*
 * The job requests answered by one read or one statement: GET, CANCEL, RETRY and LIST, and
 * the translation of a stored job into the protocol's JOB.
 */
#include "jobops.h"

#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "engine.h"
#include "log.h"
#include "request.h"
#include "scheduler.h"

/* One request waiting for the store. Owner: the store callback. */
struct jobop {
    struct request req;
    struct engine *e;
    enum rs_msg_type type;
    int64_t job;
};

/* Fill a JOB from a stored job. */
void jobops_to_msg(const struct jobstore_job *job, struct rs_job *out)
{
    memset(out, 0, sizeof(*out));
    out->id = (uint64_t)job->id;
    out->name = (struct rs_str){job->name, (uint32_t)strlen(job->name)};
    out->status = (enum rs_status)job->status;
    out->attempt = job->attempt > 0 ? (uint64_t)job->attempt : 0;
    out->max_attempts = (uint64_t)job->max_attempts;
    out->args = (struct rs_bytes){(const uint8_t *)job->args, (uint32_t)job->args_len};
    if (job->has_result)
        out->result = (struct rs_bytes){(const uint8_t *)(job->result != NULL ? job->result : ""),
                                        (uint32_t)job->result_len};
    if (job->error != NULL)
        out->error = (struct rs_str){job->error, (uint32_t)strlen(job->error)};
    if (job->key != NULL)
        out->key = (struct rs_str){job->key, (uint32_t)strlen(job->key)};
    out->priority = job->priority;
    out->created_at = job->created_at_ms;
    out->run_at = job->run_at_ms;
    if (job->has_started_at) {
        out->has |= RS_HAS_STARTED_AT;
        out->started_at = job->started_at_ms;
    }
    if (job->has_finished_at) {
        out->has |= RS_HAS_FINISHED_AT;
        out->finished_at = job->finished_at_ms;
    }
    if (job->parent_id > 0) {
        out->has |= RS_HAS_PARENT | RS_HAS_STEP;
        out->parent = (uint64_t)job->parent_id;
        out->step = (uint64_t)job->step;
    }
}

/* Send JOB for request rid. */
static int jobops_send_job(struct conn *c, uint32_t rid, const struct jobstore_job *job)
{
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_JOB;
    m.request_id = rid;
    jobops_to_msg(job, &m.u.job);
    return conn_send(c, &m);
}

/* GET came back. */
static void jobops_on_get(void *arg, const struct jobstore_job *job, const struct jobstore_err *err)
{
    struct jobop *op = arg;
    struct conn *c = request_detach(&op->req);
    if (c == NULL)
        goto out;
    if (err != NULL) {
        if (engine_reply_store_error(c, op->req.id, "GET", err) != 0)
            goto out;
    } else if (job == NULL) {
        if (conn_send_error(c, op->req.id, RS_E_NOT_FOUND, false, "no job %lld",
                            (long long)op->job) != 0)
            goto out;
    } else if (jobops_send_job(c, op->req.id, job) != 0) {
        goto out;
    }
out:
    free(op);
}

/* CANCEL or RETRY came back. */
static void jobops_on_change(void *arg, const struct jobstore_changed *what,
                             const struct jobstore_err *err)
{
    struct jobop *op = arg;
    const char *verb = op->type == RS_MSG_CANCEL ? "CANCEL" : "RETRY";
    if (err == NULL && what->change == JOBSTORE_CHANGED) {
        log_info("job %lld: %s: %s -> %s", (long long)op->job, verb,
                 jobstore_status_name(what->prev_status), jobstore_status_name(what->job->status));
        /* A running attempt here is told at once; other daemons learn it from the NOTIFY. */
        if (op->type == RS_MSG_CANCEL && what->prev_status == JOBSTORE_RUNNING)
            scheduler_job_final(op->e->scheduler, op->job);
        if (op->type == RS_MSG_RETRY)
            scheduler_wake(op->e->scheduler, what->job->name, strlen(what->job->name),
                           what->job->run_at_ms);
    }
    struct conn *c = request_detach(&op->req);
    if (c == NULL)
        goto out;
    if (err != NULL) {
        if (engine_reply_store_error(c, op->req.id, verb, err) != 0)
            goto out;
    } else if (what->change == JOBSTORE_NOT_FOUND) {
        if (conn_send_error(c, op->req.id, RS_E_NOT_FOUND, false, "no job %lld",
                            (long long)op->job) != 0)
            goto out;
    } else if (what->change == JOBSTORE_CONFLICT) {
        if (conn_send_error(c, op->req.id, RS_E_CONFLICT, false, "job %lld is %s: %s %s",
                            (long long)op->job, jobstore_status_name(what->prev_status), verb,
                            op->type == RS_MSG_CANCEL ? "needs pending or running"
                                                      : "needs dead or cancelled") != 0)
            goto out;
    } else if (jobops_send_job(c, op->req.id, what->job) != 0) {
        goto out;
    }
out:
    free(op);
}

/* LIST came back. */
static void jobops_on_list(void *arg, const struct jobstore_job *jobs, size_t n, int64_t next,
                           const struct jobstore_err *err)
{
    struct jobop *op = arg;
    struct rs_job *out = NULL;
    struct conn *c = request_detach(&op->req);
    if (c == NULL)
        goto out;
    if (err != NULL) {
        if (engine_reply_store_error(c, op->req.id, "LIST", err) != 0)
            goto out;
        goto out;
    }
    out = calloc(n > 0 ? n : 1, sizeof(*out));
    if (out == NULL) {
        if (conn_send_error(c, op->req.id, RS_E_INTERNAL, true, "out of memory") != 0)
            goto out;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        jobops_to_msg(&jobs[i], &out[i]);
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_JOBS;
    m.request_id = op->req.id;
    m.u.jobs.jobs = out;
    m.u.jobs.njobs = (uint32_t)n;
    if (next > 0) {
        m.u.jobs.has |= RS_HAS_NEXT;
        m.u.jobs.next = (uint64_t)next;
    }
    if (conn_send(c, &m) != 0)
        goto out;
out:
    free(out);
    free(op);
}

/* Send the statement for one request. */
static enum pgconn_status jobops_submit(struct engine *e, struct jobop *op,
                                        const struct rs_msg *msg)
{
    switch (msg->type) {
    case RS_MSG_GET:
        return jobstore_get(e->db, op->job, jobops_on_get, op);
    case RS_MSG_CANCEL:
        return jobstore_cancel(e->db, op->job, jobops_on_change, op);
    case RS_MSG_RETRY:
        return jobstore_retry(e->db, op->job, jobops_on_change, op);
    case RS_MSG_LIST: {
        const struct rs_list *l = &msg->u.list;
        char name[RS_MAX_NAME + 1];
        if (l->name.ptr != NULL) {
            memcpy(name, l->name.ptr, l->name.len);
            name[l->name.len] = '\0';
        }
        struct jobstore_filter f = {
            .status = l->has_status ? (int)l->status : -1,
            .name = l->name.ptr != NULL ? name : NULL,
            .before = l->after > INT64_MAX ? INT64_MAX : (int64_t)l->after,
            .limit = (int32_t)l->limit,
            /* Ids above INT64_MAX do not exist: such a parent has no steps. */
            .parent = (l->has & RS_HAS_PARENT) == 0 ? 0
                      : l->parent > INT64_MAX       ? INT64_MAX
                                                    : (int64_t)l->parent,
        };
        return jobstore_list(e->db, &f, jobops_on_list, op);
    }
    default:
        return PGCONN_INVALID;
    }
}

/* GET, CANCEL, RETRY, LIST. */
int jobops_handle(struct engine *e, struct conn *c, const struct rs_msg *msg)
{
    int64_t job = 0;
    if (msg->type != RS_MSG_LIST) {
        if (msg->u.ref.job > INT64_MAX)
            return conn_send_error(c, msg->request_id, RS_E_NOT_FOUND, false, "no job %llu",
                                   (unsigned long long)msg->u.ref.job);
        job = (int64_t)msg->u.ref.job;
    } else if (msg->u.list.name.ptr != NULL && msg->u.list.name.len > RS_MAX_NAME) {
        return conn_send_error(c, msg->request_id, RS_E_BAD_VALUE, false, "name: too long");
    }
    struct jobop *op = calloc(1, sizeof(*op));
    if (op == NULL)
        return conn_send_error(c, msg->request_id, RS_E_INTERNAL, true, "out of memory");
    op->e = e;
    op->type = msg->type;
    op->job = job;
    enum pgconn_status st = jobops_submit(e, op, msg);
    if (st != PGCONN_OK) {
        free(op);
        return engine_reply_submit_error(c, msg->request_id, rs_msg_type_name(msg->type), (int)st);
    }
    request_attach(&op->req, c, msg->request_id);
    return 0;
}
