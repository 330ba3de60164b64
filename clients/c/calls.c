/*
 * The job calls of libreseolio: ENQUEUE with every option, AWAIT, GET, CANCEL, RETRY, LIST,
 * each as a blocking call and as a non-blocking one. Arguments are checked here so that a
 * mistake is a message naming the option, not a daemon's bad_value.
 */
#include <math.h>
#include <string.h>

#include "client_internal.h"
#include "reseolio/proto.h"

/* Every option unset. */
void rs_enqueue_opts_init(struct rs_enqueue_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->backoff = RS_CLIENT_BACKOFF_DEFAULT;
    opts->initial_delay_ms = -1;
    opts->max_delay_ms = -1;
    opts->jitter = -1.0;
}

/* Check a delay option: unset (< 0), or up to 30 days. */
static enum rs_client_status calls_check_delay(struct rs_client *c, const char *what, int64_t v)
{
    if (v > (int64_t)RS_MAX_DELAY_LIMIT_MS)
        return client_fail(c, RS_CLIENT_E_ARG, "%s must be at most 30 days (%llu ms)", what,
                           (unsigned long long)RS_MAX_DELAY_LIMIT_MS);
    return RS_CLIENT_OK;
}

/* The options of ENQUEUE, checked, into m. */
enum rs_client_status calls_enqueue_opts(struct rs_client *c, struct rs_enqueue *e,
                                         const struct rs_enqueue_opts *o)
{
    enum rs_client_status st;
    if (o->idempotency_key != NULL) {
        size_t n = strlen(o->idempotency_key);
        if (n == 0 || n > RS_MAX_KEY)
            return client_fail(c, RS_CLIENT_E_ARG, "idempotency key must be 1..%u bytes",
                               RS_MAX_KEY);
        e->key = (struct rs_str){o->idempotency_key, (uint32_t)n};
    }
    if (o->max_attempts > RS_MAX_ATTEMPTS_LIMIT)
        return client_fail(c, RS_CLIENT_E_ARG, "max_attempts must be 1..%u", RS_MAX_ATTEMPTS_LIMIT);
    if (o->max_attempts > 0) {
        e->has |= RS_HAS_MAX_ATTEMPTS;
        e->max_attempts = o->max_attempts;
    }
    switch (o->backoff) {
    case RS_CLIENT_BACKOFF_DEFAULT:
        break;
    case RS_CLIENT_BACKOFF_FIXED:
        e->has_backoff = true;
        e->backoff = RS_BACKOFF_FIXED;
        break;
    case RS_CLIENT_BACKOFF_LINEAR:
        e->has_backoff = true;
        e->backoff = RS_BACKOFF_LINEAR;
        break;
    case RS_CLIENT_BACKOFF_EXPONENTIAL:
        e->has_backoff = true;
        e->backoff = RS_BACKOFF_EXPONENTIAL;
        break;
    default:
        return client_fail(c, RS_CLIENT_E_ARG, "backoff %d is not a known policy", (int)o->backoff);
    }
    if ((st = calls_check_delay(c, "initial_delay_ms", o->initial_delay_ms)) != RS_CLIENT_OK)
        return st;
    if (o->initial_delay_ms >= 0) {
        e->has |= RS_HAS_INITIAL_DELAY;
        e->initial_delay_ms = (uint64_t)o->initial_delay_ms;
    }
    if ((st = calls_check_delay(c, "max_delay_ms", o->max_delay_ms)) != RS_CLIENT_OK)
        return st;
    if (o->max_delay_ms >= 0) {
        e->has |= RS_HAS_MAX_DELAY;
        e->max_delay_ms = (uint64_t)o->max_delay_ms;
    }
    if (isnan(o->jitter) || o->jitter > 1.0)
        return client_fail(c, RS_CLIENT_E_ARG, "jitter must be 0..1");
    if (o->jitter >= 0.0) {
        e->has |= RS_HAS_JITTER;
        e->jitter = o->jitter;
    }
    if (o->timeout_ms > (int64_t)RS_MAX_TIMEOUT_MS)
        return client_fail(c, RS_CLIENT_E_ARG, "timeout_ms must be at most one day (%llu ms)",
                           (unsigned long long)RS_MAX_TIMEOUT_MS);
    if (o->timeout_ms > 0) {
        e->has |= RS_HAS_TIMEOUT;
        e->timeout_ms = (uint64_t)o->timeout_ms;
    }
    if (o->priority < -32768 || o->priority > 32767)
        return client_fail(c, RS_CLIENT_E_ARG, "priority must be -32768..32767");
    if (o->priority != 0) {
        e->has |= RS_HAS_PRIORITY;
        e->priority = o->priority;
    }
    if (o->run_at_ms != 0 && o->delay_ms != 0)
        return client_fail(c, RS_CLIENT_E_ARG, "run_at_ms and delay_ms exclude each other");
    if (o->run_at_ms != 0) {
        e->has |= RS_HAS_RUN_AT;
        e->run_at = o->run_at_ms;
    }
    if (o->delay_ms < 0)
        return client_fail(c, RS_CLIENT_E_ARG, "delay_ms must not be negative");
    if ((st = calls_check_delay(c, "delay_ms", o->delay_ms)) != RS_CLIENT_OK)
        return st;
    if (o->delay_ms > 0) {
        e->has |= RS_HAS_DELAY;
        e->delay_ms = (uint64_t)o->delay_ms;
    }
    if (o->parent > INT64_MAX)
        return client_fail(c, RS_CLIENT_E_ARG, "parent must be a job id (1..2^63-1)");
    if (o->parent == 0 && o->step != 0)
        return client_fail(c, RS_CLIENT_E_ARG, "step is set but parent is not");
    if (o->step > RS_MAX_STEP)
        return client_fail(c, RS_CLIENT_E_ARG, "step must be 0..%u", RS_MAX_STEP);
    if (o->parent != 0) {
        e->has |= RS_HAS_PARENT | RS_HAS_STEP;
        e->parent = o->parent;
        e->step = o->step;
    }
    if (o->idempotency_key != NULL &&
        strncmp(o->idempotency_key, RS_STEP_KEY_PREFIX, sizeof(RS_STEP_KEY_PREFIX) - 1) == 0)
        return client_fail(c, RS_CLIENT_E_ARG,
                           "idempotency_key: the prefix \"" RS_STEP_KEY_PREFIX
                           "\" is reserved for steps");
    return RS_CLIENT_OK;
}

/* ENQUEUE from the arguments of rs_enqueue. */
static enum rs_client_status calls_enqueue_msg(struct rs_client *c, struct rs_msg *m,
                                               const char *name, const void *args, size_t args_len,
                                               const struct rs_enqueue_opts *o)
{
    memset(m, 0, sizeof(*m));
    m->type = RS_MSG_ENQUEUE;
    size_t n = name != NULL ? strlen(name) : 0;
    if (n == 0 || n > RS_MAX_NAME)
        return client_fail(c, RS_CLIENT_E_ARG, "function name must be 1..%u bytes", RS_MAX_NAME);
    if (args == NULL && args_len > 0)
        return client_fail(c, RS_CLIENT_E_ARG, "args is NULL but args_len is %zu", args_len);
    if (args_len > UINT32_MAX)
        return client_fail(c, RS_CLIENT_E_ARG, "args of %zu bytes are larger than any frame",
                           args_len);
    struct rs_enqueue *e = &m->u.enqueue;
    e->name = (struct rs_str){name, (uint32_t)n};
    if (args_len > 0)
        e->args = (struct rs_bytes){args, (uint32_t)args_len};
    return o != NULL ? calls_enqueue_opts(c, e, o) : RS_CLIENT_OK;
}

/* AWAIT, GET, CANCEL, RETRY: one job id (and AWAIT's timeout). */
static void calls_ref_msg(struct rs_msg *m, enum rs_msg_type type, uint64_t job, int64_t timeout)
{
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->u.ref.job = job;
    if (type == RS_MSG_AWAIT && timeout >= 0) {
        m->u.ref.has = RS_HAS_AWAIT_TIMEOUT;
        m->u.ref.timeout_ms = (uint64_t)timeout;
    }
}

/* LIST from a filter and a cursor. */
static enum rs_client_status calls_list_msg(struct rs_client *c, struct rs_msg *m,
                                            const struct rs_list_filter *f, uint64_t cursor)
{
    memset(m, 0, sizeof(*m));
    m->type = RS_MSG_LIST;
    struct rs_list *l = &m->u.list;
    if (cursor != 0) {
        l->has |= RS_HAS_AFTER;
        l->after = cursor;
    }
    if (f == NULL)
        return RS_CLIENT_OK;
    if (f->by_status) {
        static const enum rs_status map[] = {[RS_JOB_PENDING] = RS_STATUS_PENDING,
                                             [RS_JOB_RUNNING] = RS_STATUS_RUNNING,
                                             [RS_JOB_SUCCESS] = RS_STATUS_SUCCESS,
                                             [RS_JOB_DEAD] = RS_STATUS_DEAD,
                                             [RS_JOB_CANCELLED] = RS_STATUS_CANCELLED};
        if ((unsigned)f->status > RS_JOB_CANCELLED)
            return client_fail(c, RS_CLIENT_E_ARG, "status %d is not a job status", (int)f->status);
        l->has_status = true;
        l->status = map[f->status];
    }
    if (f->name != NULL) {
        size_t n = strlen(f->name);
        if (n == 0 || n > RS_MAX_NAME)
            return client_fail(c, RS_CLIENT_E_ARG, "function name must be 1..%u bytes",
                               RS_MAX_NAME);
        l->name = (struct rs_str){f->name, (uint32_t)n};
    }
    if (f->limit > RS_MAX_LIST)
        return client_fail(c, RS_CLIENT_E_ARG, "limit must be 1..%u", RS_MAX_LIST);
    if (f->limit > 0) {
        l->has |= RS_HAS_LIMIT;
        l->limit = f->limit;
    }
    if (f->parent > INT64_MAX)
        return client_fail(c, RS_CLIENT_E_ARG, "parent must be a job id (1..2^63-1)");
    if (f->parent != 0) {
        l->has |= RS_HAS_PARENT;
        l->parent = f->parent;
    }
    return RS_CLIENT_OK;
}

/*
 * The blocking tail shared by every call: wait for the reply, hand its owned part to the
 * caller through take, and do a close that a callback asked for meanwhile.
 */
static enum rs_client_status calls_wait(struct rs_client *c, struct rs_msg *m, enum call_kind kind,
                                        int64_t deadline, struct client_reply *r)
{
    enum rs_client_status st = client_call(c, m, kind, deadline, r);
    st = client_finish(c, st);
    if (st != RS_CLIENT_OK)
        reply_clear(r);
    return st;
}

enum rs_client_status rs_enqueue(struct rs_client *c, const char *name, const void *args,
                                 size_t args_len, const struct rs_enqueue_opts *opts,
                                 struct rs_enqueue_result *out)
{
    if (c == NULL || out == NULL)
        return RS_CLIENT_E_ARG;
    memset(out, 0, sizeof(*out));
    struct rs_msg m;
    enum rs_client_status st = client_begin(c);
    if (st == RS_CLIENT_OK)
        st = calls_enqueue_msg(c, &m, name, args, args_len, opts);
    if (st != RS_CLIENT_OK)
        return st;
    struct client_reply r;
    st = calls_wait(c, &m, CALL_ENQUEUE, client_deadline(c), &r);
    if (st == RS_CLIENT_OK)
        *out = r.enqueued;
    return st;
}

/* AWAIT, as the attempt (waiter, attempt) when waiter != 0. */
enum rs_client_status calls_await(struct rs_client *c, uint64_t job, int64_t timeout_ms,
                                  uint64_t waiter, uint64_t attempt, struct rs_completion **out)
{
    if (c == NULL || out == NULL)
        return RS_CLIENT_E_ARG;
    *out = NULL;
    enum rs_client_status st = client_begin(c);
    if (st != RS_CLIENT_OK)
        return st;
    struct rs_msg m;
    calls_ref_msg(&m, RS_MSG_AWAIT, job, timeout_ms);
    if (waiter != 0 && waiter <= INT64_MAX && attempt >= 1 && attempt <= INT32_MAX) {
        m.u.ref.has |= RS_HAS_WAITER | RS_HAS_WAITER_ATTEMPT;
        m.u.ref.waiter = waiter;
        m.u.ref.waiter_attempt = attempt;
    }
    /* The daemon counts the timeout; ours only guards against a daemon that never answers. */
    int64_t deadline = TRANSPORT_FOREVER;
    if (timeout_ms >= 0 && timeout_ms < INT64_MAX / 4 && c->timeout_ms >= 0)
        deadline = transport_deadline(timeout_ms + c->timeout_ms);
    struct client_reply r;
    st = calls_wait(c, &m, CALL_AWAIT, deadline, &r);
    if (st == RS_CLIENT_OK)
        *out = r.completion;
    return st;
}

enum rs_client_status rs_await(struct rs_client *c, uint64_t job, int64_t timeout_ms,
                               struct rs_completion **out)
{
    return calls_await(c, job, timeout_ms, 0, 0, out);
}

/* GET, CANCEL, RETRY: a job id in, a job out. */
static enum rs_client_status calls_job(struct rs_client *c, enum rs_msg_type type,
                                       enum call_kind kind, uint64_t job, struct rs_job_info **out)
{
    if (c == NULL || out == NULL)
        return RS_CLIENT_E_ARG;
    *out = NULL;
    enum rs_client_status st = client_begin(c);
    if (st != RS_CLIENT_OK)
        return st;
    struct rs_msg m;
    calls_ref_msg(&m, type, job, -1);
    struct client_reply r;
    st = calls_wait(c, &m, kind, client_deadline(c), &r);
    if (st == RS_CLIENT_OK)
        *out = r.job;
    return st;
}

enum rs_client_status rs_get(struct rs_client *c, uint64_t job, struct rs_job_info **out)
{
    return calls_job(c, RS_MSG_GET, CALL_GET, job, out);
}

enum rs_client_status rs_cancel(struct rs_client *c, uint64_t job, struct rs_job_info **out)
{
    return calls_job(c, RS_MSG_CANCEL, CALL_CANCEL, job, out);
}

enum rs_client_status rs_retry(struct rs_client *c, uint64_t job, struct rs_job_info **out)
{
    return calls_job(c, RS_MSG_RETRY, CALL_RETRY, job, out);
}

enum rs_client_status rs_list(struct rs_client *c, const struct rs_list_filter *filter,
                              uint64_t cursor, struct rs_job_list **out)
{
    if (c == NULL || out == NULL)
        return RS_CLIENT_E_ARG;
    *out = NULL;
    struct rs_msg m;
    enum rs_client_status st = client_begin(c);
    if (st == RS_CLIENT_OK)
        st = calls_list_msg(c, &m, filter, cursor);
    if (st != RS_CLIENT_OK)
        return st;
    struct client_reply r;
    st = calls_wait(c, &m, CALL_LIST, client_deadline(c), &r);
    if (st == RS_CLIENT_OK)
        *out = r.list;
    return st;
}

/* The non-blocking tail: queue the request; cb runs later. */
static enum rs_client_status calls_submit(struct rs_client *c, struct rs_msg *m,
                                          enum call_kind kind, rs_reply_cb cb, void *arg)
{
    uint32_t id;
    return client_submit(c, m, kind, cb, arg, &id);
}

enum rs_client_status rs_enqueue_async(struct rs_client *c, const char *name, const void *args,
                                       size_t args_len, const struct rs_enqueue_opts *opts,
                                       rs_reply_cb cb, void *arg)
{
    if (c == NULL || cb == NULL)
        return RS_CLIENT_E_ARG;
    struct rs_msg m;
    enum rs_client_status st = client_begin(c);
    if (st == RS_CLIENT_OK)
        st = calls_enqueue_msg(c, &m, name, args, args_len, opts);
    if (st == RS_CLIENT_OK)
        st = calls_submit(c, &m, CALL_ENQUEUE, cb, arg);
    return st;
}

/* AWAIT, GET, CANCEL, RETRY without waiting. */
static enum rs_client_status calls_ref_async(struct rs_client *c, enum rs_msg_type type,
                                             enum call_kind kind, uint64_t job, int64_t timeout,
                                             rs_reply_cb cb, void *arg)
{
    if (c == NULL || cb == NULL)
        return RS_CLIENT_E_ARG;
    enum rs_client_status st = client_begin(c);
    if (st != RS_CLIENT_OK)
        return st;
    struct rs_msg m;
    calls_ref_msg(&m, type, job, timeout);
    return calls_submit(c, &m, kind, cb, arg);
}

enum rs_client_status rs_await_async(struct rs_client *c, uint64_t job, int64_t timeout_ms,
                                     rs_reply_cb cb, void *arg)
{
    return calls_ref_async(c, RS_MSG_AWAIT, CALL_AWAIT, job, timeout_ms, cb, arg);
}

enum rs_client_status rs_get_async(struct rs_client *c, uint64_t job, rs_reply_cb cb, void *arg)
{
    return calls_ref_async(c, RS_MSG_GET, CALL_GET, job, -1, cb, arg);
}

enum rs_client_status rs_cancel_async(struct rs_client *c, uint64_t job, rs_reply_cb cb, void *arg)
{
    return calls_ref_async(c, RS_MSG_CANCEL, CALL_CANCEL, job, -1, cb, arg);
}

enum rs_client_status rs_retry_async(struct rs_client *c, uint64_t job, rs_reply_cb cb, void *arg)
{
    return calls_ref_async(c, RS_MSG_RETRY, CALL_RETRY, job, -1, cb, arg);
}

enum rs_client_status rs_list_async(struct rs_client *c, const struct rs_list_filter *filter,
                                    uint64_t cursor, rs_reply_cb cb, void *arg)
{
    if (c == NULL || cb == NULL)
        return RS_CLIENT_E_ARG;
    struct rs_msg m;
    enum rs_client_status st = client_begin(c);
    if (st == RS_CLIENT_OK)
        st = calls_list_msg(c, &m, filter, cursor);
    if (st == RS_CLIENT_OK)
        st = calls_submit(c, &m, CALL_LIST, cb, arg);
    return st;
}
