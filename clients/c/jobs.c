/*
 * What the daemon's replies become for the application: owned copies of jobs, completions
 * and list pages (the wire message they came from is gone before a callback runs), and the
 * reply struct that carries them or a failure to a callback.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

/* An empty successful reply. */
void reply_init(struct client_reply *r)
{
    memset(r, 0, sizeof(*r));
    r->pub.status = RS_CLIENT_OK;
    r->pub.error = r->error;
}

/* A failure; msg may be r->error itself. */
void reply_set_failure(struct client_reply *r, enum rs_client_status st, const char *code,
                       bool retryable, const char *msg)
{
    r->pub.status = st;
    if (msg != r->error)
        snprintf(r->error, sizeof(r->error), "%s", msg != NULL ? msg : "");
    if (code != NULL) {
        snprintf(r->code, sizeof(r->code), "%s", code);
        r->pub.error_code = r->code;
    }
    r->pub.retryable = retryable;
}

/* ERROR: the daemon's code and message; an AWAIT that ran out of time is a timeout. */
void reply_from_error(struct client_reply *r, enum call_kind kind, const struct rs_error_msg *e)
{
    char code[sizeof(r->code)];
    snprintf(code, sizeof(code), "%.*s", (int)e->code.len, e->code.ptr);
    enum rs_client_status st = RS_CLIENT_E_SERVER;
    if (kind == CALL_AWAIT && strcmp(code, "timeout") == 0)
        st = RS_CLIENT_E_TIMEOUT;
    snprintf(r->error, sizeof(r->error), "%s: %.*s", code, (int)e->message.len, e->message.ptr);
    reply_set_failure(r, st, code, e->retryable, r->error);
}

/* A NUL-terminated copy of an optional wire string; NULL when absent. */
static char *jobs_str(struct rs_str s, bool *nomem)
{
    if (s.ptr == NULL)
        return NULL;
    char *p = malloc((size_t)s.len + 1);
    if (p == NULL) {
        *nomem = true;
        return NULL;
    }
    memcpy(p, s.ptr, s.len);
    p[s.len] = '\0';
    return p;
}

/* A copy of wire bytes; NULL when absent unless required (then never NULL, maybe empty). */
static uint8_t *jobs_bytes(struct rs_bytes b, bool required, size_t *len, bool *nomem)
{
    *len = 0;
    if (b.ptr == NULL && !required)
        return NULL;
    uint8_t *p = malloc(b.len > 0 ? b.len : 1);
    if (p == NULL) {
        *nomem = true;
        return NULL;
    }
    if (b.len > 0)
        memcpy(p, b.ptr, b.len);
    *len = b.len;
    return p;
}

/* The public view of the protocol's job status. */
static enum rs_job_status jobs_status(enum rs_status s)
{
    switch (s) {
    case RS_STATUS_PENDING:
        return RS_JOB_PENDING;
    case RS_STATUS_RUNNING:
        return RS_JOB_RUNNING;
    case RS_STATUS_SUCCESS:
        return RS_JOB_SUCCESS;
    case RS_STATUS_DEAD:
        return RS_JOB_DEAD;
    case RS_STATUS_CANCELLED:
        return RS_JOB_CANCELLED;
    }
    return RS_JOB_DEAD;
}

/* Free the members of j, not j. */
static void jobs_info_clear(struct rs_job_info *j)
{
    free(j->name);
    free(j->args);
    free(j->result);
    free(j->error);
    free(j->key);
    memset(j, 0, sizeof(*j));
}

/* Copy a wire job into dst (zeroed). Returns 0, or -1 (dst then holds what to clear). */
static int jobs_info_copy(struct rs_job_info *dst, const struct rs_job *src)
{
    bool nomem = false;
    dst->id = src->id;
    dst->name = jobs_str(src->name, &nomem);
    dst->status = jobs_status(src->status);
    dst->attempt = src->attempt;
    dst->max_attempts = src->max_attempts;
    dst->args = jobs_bytes(src->args, true, &dst->args_len, &nomem);
    dst->result = jobs_bytes(src->result, false, &dst->result_len, &nomem);
    dst->error = jobs_str(src->error, &nomem);
    dst->key = jobs_str(src->key, &nomem);
    dst->priority = (int)src->priority;
    dst->created_at = src->created_at;
    dst->run_at = src->run_at;
    dst->started_at = (src->has & RS_HAS_STARTED_AT) != 0 ? src->started_at : 0;
    dst->finished_at = (src->has & RS_HAS_FINISHED_AT) != 0 ? src->finished_at : 0;
    dst->parent = (src->has & RS_HAS_PARENT) != 0 ? src->parent : 0;
    dst->step = (src->has & RS_HAS_STEP) != 0 ? src->step : 0;
    return nomem ? -1 : 0;
}

/* Copies for each reply type; on -1 whatever was made is already freed. */
static int jobs_completion(struct client_reply *r, const struct rs_completed *m)
{
    struct rs_completion *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -1;
    bool nomem = false;
    c->job = m->job;
    c->status = jobs_status(m->status);
    c->attempt = m->attempt;
    c->result = jobs_bytes(m->result, false, &c->result_len, &nomem);
    c->error = jobs_str(m->error, &nomem);
    if (nomem) {
        rs_completion_free(c);
        return -1;
    }
    r->completion = c;
    r->pub.completion = c;
    return 0;
}

static int jobs_job(struct client_reply *r, const struct rs_job *m)
{
    struct rs_job_info *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return -1;
    if (jobs_info_copy(j, m) != 0) {
        rs_job_info_free(j);
        return -1;
    }
    r->job = j;
    r->pub.job = j;
    return 0;
}

static int jobs_list(struct client_reply *r, const struct rs_jobs *m)
{
    struct rs_job_list *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return -1;
    l->next = (m->has & RS_HAS_NEXT) != 0 ? m->next : 0;
    if (m->njobs > 0) {
        l->jobs = calloc(m->njobs, sizeof(*l->jobs));
        if (l->jobs == NULL) {
            free(l);
            return -1;
        }
    }
    for (uint32_t i = 0; i < m->njobs; i++) {
        l->count = i + 1; /* so that a failure frees the partial copy too */
        if (jobs_info_copy(&l->jobs[i], &m->jobs[i]) != 0) {
            rs_job_list_free(l);
            return -1;
        }
    }
    r->list = l;
    r->pub.list = l;
    return 0;
}

/* The reply to a job request, as owned copies. */
enum rs_client_status reply_from_msg(struct client_reply *r, enum call_kind kind,
                                     const struct rs_msg *m)
{
    int rc = 0;
    switch (kind) {
    case CALL_ENQUEUE:
        r->enqueued.job = m->u.enqueued.job;
        r->enqueued.deduplicated = m->u.enqueued.deduplicated;
        r->pub.enqueued = &r->enqueued;
        break;
    case CALL_AWAIT:
        rc = jobs_completion(r, &m->u.completed);
        break;
    case CALL_GET:
    case CALL_CANCEL:
    case CALL_RETRY:
        rc = jobs_job(r, &m->u.job);
        break;
    case CALL_LIST:
        rc = jobs_list(r, &m->u.jobs);
        break;
    case CALL_SCHEDULE:
    case CALL_SCHEDULES:
        rc = schedules_reply(r, kind, m);
        break;
    case CALL_STATS:
        rc = stats_reply(r, &m->u.stats);
        break;
    case CALL_HELLO:
    case CALL_PING:
    case CALL_REGISTER:
    case CALL_ACK:
    case CALL_SCHEDULE_DELETE:
        break;
    }
    if (rc != 0) {
        reply_set_failure(r, RS_CLIENT_E_NOMEM, NULL, false, "out of memory copying the reply");
        return RS_CLIENT_E_NOMEM;
    }
    return RS_CLIENT_OK;
}

/* Move a reply; src keeps nothing to free. */
void reply_move(struct client_reply *dst, struct client_reply *src)
{
    *dst = *src;
    dst->pub.error = dst->error;
    dst->pub.error_code = src->pub.error_code != NULL ? dst->code : NULL;
    dst->pub.enqueued = src->pub.enqueued != NULL ? &dst->enqueued : NULL;
    src->completion = NULL;
    src->job = NULL;
    src->list = NULL;
    src->schedule = NULL;
    src->schedules = NULL;
    src->stats = NULL;
    src->pub.schedule = NULL;
    src->pub.schedules = NULL;
    src->pub.completion = NULL;
    src->pub.job = NULL;
    src->pub.list = NULL;
}

/* Free what the reply still owns. */
void reply_clear(struct client_reply *r)
{
    rs_completion_free(r->completion);
    rs_job_info_free(r->job);
    rs_job_list_free(r->list);
    rs_schedule_info_free(r->schedule);
    rs_schedule_page_free(r->schedules);
    rs_stats_free(r->stats);
    r->stats = NULL;
    r->schedule = NULL;
    r->schedules = NULL;
    r->pub.schedule = NULL;
    r->pub.schedules = NULL;
    r->completion = NULL;
    r->job = NULL;
    r->list = NULL;
    r->pub.completion = NULL;
    r->pub.job = NULL;
    r->pub.list = NULL;
}

void rs_completion_free(struct rs_completion *c)
{
    if (c == NULL)
        return;
    free(c->result);
    free(c->error);
    free(c);
}

void rs_job_info_free(struct rs_job_info *j)
{
    if (j == NULL)
        return;
    jobs_info_clear(j);
    free(j);
}

void rs_job_list_free(struct rs_job_list *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->count; i++)
        jobs_info_clear(&l->jobs[i]);
    free(l->jobs);
    free(l);
}

/* Wire names, as docs/protocol.md spells them. */
const char *rs_job_status_name(enum rs_job_status s)
{
    switch (s) {
    case RS_JOB_PENDING:
        return "pending";
    case RS_JOB_RUNNING:
        return "running";
    case RS_JOB_SUCCESS:
        return "success";
    case RS_JOB_DEAD:
        return "dead";
    case RS_JOB_CANCELLED:
        return "cancelled";
    }
    return "unknown";
}
