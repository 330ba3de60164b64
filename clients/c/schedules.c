/*
 * The schedule calls of libreseolio: SCHEDULE_PUT, _GET, _PAUSE, _RESUME, _DELETE, _LIST
 * (docs/protocol.md), blocking, and the copy of SCHEDULE and SCHEDULES into owned structs.
 */
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "reseolio/proto.h"

void rs_schedule_opts_init(struct rs_schedule_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
    rs_enqueue_opts_init(&opts->job);
    opts->paused = -1;
}

/* A NUL-terminated copy of a wire string ("" when absent); NULL out of memory. */
static char *schedules_str(struct rs_str s)
{
    char *p = malloc((size_t)s.len + 1);
    if (p != NULL) {
        if (s.len > 0)
            memcpy(p, s.ptr, s.len);
        p[s.len] = '\0';
    }
    return p;
}

/* Release what an info holds, not the info itself. */
static void schedules_info_clear(struct rs_schedule_info *s)
{
    free(s->name);
    free(s->function);
    free(s->cron);
    free(s->zone);
    free(s->args);
}

void rs_schedule_info_free(struct rs_schedule_info *s)
{
    if (s == NULL)
        return;
    schedules_info_clear(s);
    free(s);
}

void rs_schedule_page_free(struct rs_schedule_page *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->count; i++)
        schedules_info_clear(&l->schedules[i]);
    free(l->schedules);
    free(l->next);
    free(l);
}

/* Copy a SCHEDULE into dst (zeroed). 0, or -1 out of memory (dst to clear). */
static int schedules_copy(struct rs_schedule_info *dst, const struct rs_schedule *src)
{
    static const enum rs_client_backoff backoffs[] = {
        [RS_BACKOFF_EXPONENTIAL] = RS_CLIENT_BACKOFF_EXPONENTIAL,
        [RS_BACKOFF_FIXED] = RS_CLIENT_BACKOFF_FIXED,
        [RS_BACKOFF_LINEAR] = RS_CLIENT_BACKOFF_LINEAR,
    };
    dst->name = schedules_str(src->name);
    dst->function = schedules_str(src->function);
    dst->cron = schedules_str(src->cron);
    dst->zone = schedules_str(src->zone);
    dst->args = malloc(src->args.len > 0 ? src->args.len : 1);
    if (dst->name == NULL || dst->function == NULL || dst->cron == NULL || dst->zone == NULL ||
        dst->args == NULL)
        return -1;
    if (src->args.len > 0)
        memcpy(dst->args, src->args.ptr, src->args.len);
    dst->args_len = src->args.len;
    dst->max_attempts = src->max_attempts;
    dst->backoff = (unsigned)src->backoff <= RS_BACKOFF_LINEAR ? backoffs[src->backoff]
                                                               : RS_CLIENT_BACKOFF_EXPONENTIAL;
    dst->initial_delay_ms = src->initial_delay_ms;
    dst->max_delay_ms = src->max_delay_ms;
    dst->jitter = src->jitter;
    dst->timeout_ms = src->timeout_ms;
    dst->priority = (int)src->priority;
    dst->paused = src->paused;
    dst->next_run_at = (src->has & RS_HAS_NEXT_RUN_AT) ? src->next_run_at : 0;
    dst->last_run_at = (src->has & RS_HAS_LAST_RUN_AT) ? src->last_run_at : 0;
    dst->created_at = src->created_at;
    return 0;
}

int schedules_reply(struct client_reply *r, enum call_kind kind, const struct rs_msg *m)
{
    if (kind == CALL_SCHEDULE) {
        r->schedule = calloc(1, sizeof(*r->schedule));
        if (r->schedule == NULL)
            return -1;
        if (schedules_copy(r->schedule, &m->u.schedule) != 0)
            return -1; /* reply_clear frees it */
        r->pub.schedule = r->schedule;
        return 0;
    }
    const struct rs_schedules *src = &m->u.schedules;
    struct rs_schedule_page *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return -1;
    r->schedules = l;
    l->schedules = calloc(src->nschedules > 0 ? src->nschedules : 1, sizeof(*l->schedules));
    if (l->schedules == NULL)
        return -1;
    for (uint32_t i = 0; i < src->nschedules; i++) {
        l->count = i + 1;
        if (schedules_copy(&l->schedules[i], &src->schedules[i]) != 0)
            return -1;
    }
    if (src->next.ptr != NULL && (l->next = schedules_str(src->next)) == NULL)
        return -1;
    r->pub.schedules = l;
    return 0;
}

/* A string argument of 1..max bytes into *out. */
static enum rs_client_status schedules_arg(struct rs_client *c, const char *what, const char *v,
                                           size_t max, struct rs_str *out)
{
    size_t n = v != NULL ? strlen(v) : 0;
    if (n == 0 || n > max)
        return client_fail(c, RS_CLIENT_E_ARG, "%s must be 1..%zu bytes", what, max);
    *out = (struct rs_str){v, (uint32_t)n};
    return RS_CLIENT_OK;
}

/* Send m and wait for its reply into r. */
static enum rs_client_status schedules_call(struct rs_client *c, struct rs_msg *m,
                                            enum call_kind kind, struct client_reply *r)
{
    enum rs_client_status st = client_call(c, m, kind, client_deadline(c), r);
    st = client_finish(c, st);
    if (st != RS_CLIENT_OK)
        reply_clear(r);
    return st;
}

/* SCHEDULE_PUT from the arguments of rs_schedule_put. */
static enum rs_client_status schedules_put_msg(struct rs_client *c, struct rs_msg *m,
                                               const char *name, const char *function,
                                               const char *cron, const struct rs_schedule_opts *o)
{
    struct rs_schedule *s = &m->u.schedule;
    enum rs_client_status st;
    memset(m, 0, sizeof(*m));
    m->type = RS_MSG_SCHEDULE_PUT;
    if ((st = schedules_arg(c, "schedule name", name, RS_MAX_SCHEDULE_NAME, &s->name)) != 0 ||
        (st = schedules_arg(c, "function name", function, RS_MAX_NAME, &s->function)) != 0 ||
        (st = schedules_arg(c, "cron expression", cron, RS_MAX_CRON, &s->cron)) != 0)
        return st;
    if (o == NULL)
        return RS_CLIENT_OK;
    if (o->zone != NULL &&
        (st = schedules_arg(c, "time zone", o->zone, RS_MAX_ZONE, &s->zone)) != RS_CLIENT_OK)
        return st;
    if (o->args_len > 0 && o->args == NULL)
        return client_fail(c, RS_CLIENT_E_ARG, "args is NULL but args_len is not 0");
    if (o->args_len > UINT32_MAX)
        return client_fail(c, RS_CLIENT_E_ARG, "args too long");
    if (o->args != NULL)
        s->args = (struct rs_bytes){o->args, (uint32_t)o->args_len};
    if (o->job.idempotency_key != NULL || o->job.run_at_ms != 0 || o->job.delay_ms != 0)
        return client_fail(c, RS_CLIENT_E_ARG,
                           "a schedule's runs take no idempotency key, run_at_ms or delay_ms");
    struct rs_enqueue e;
    memset(&e, 0, sizeof(e));
    if ((st = calls_enqueue_opts(c, &e, &o->job)) != RS_CLIENT_OK)
        return st;
    s->has = e.has;
    s->max_attempts = e.max_attempts;
    s->has_backoff = e.has_backoff;
    s->backoff = e.backoff;
    s->initial_delay_ms = e.initial_delay_ms;
    s->max_delay_ms = e.max_delay_ms;
    s->jitter = e.jitter;
    s->timeout_ms = e.timeout_ms;
    s->priority = e.priority;
    if (o->paused >= 0) {
        s->has |= RS_HAS_PAUSED;
        s->paused = o->paused > 0;
    }
    return RS_CLIENT_OK;
}

enum rs_client_status rs_schedule_put(struct rs_client *c, const char *name, const char *function,
                                      const char *cron, const struct rs_schedule_opts *opts,
                                      struct rs_schedule_info **out)
{
    if (c == NULL || out == NULL)
        return RS_CLIENT_E_ARG;
    *out = NULL;
    struct rs_msg m;
    enum rs_client_status st = client_begin(c);
    if (st == RS_CLIENT_OK)
        st = schedules_put_msg(c, &m, name, function, cron, opts);
    if (st != RS_CLIENT_OK)
        return st;
    struct client_reply r;
    st = schedules_call(c, &m, CALL_SCHEDULE, &r);
    if (st == RS_CLIENT_OK)
        *out = r.schedule;
    return st;
}

/* GET, PAUSE, RESUME, DELETE: a name in. */
static enum rs_client_status schedules_by_name(struct rs_client *c, enum rs_msg_type type,
                                               const char *name, struct rs_schedule_info **out)
{
    if (c == NULL)
        return RS_CLIENT_E_ARG;
    if (out != NULL)
        *out = NULL;
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    enum rs_client_status st = client_begin(c);
    if (st == RS_CLIENT_OK)
        st = schedules_arg(c, "schedule name", name, RS_MAX_SCHEDULE_NAME, &m.u.sref.name);
    if (st != RS_CLIENT_OK)
        return st;
    struct client_reply r;
    st = schedules_call(c, &m,
                        type == RS_MSG_SCHEDULE_DELETE ? CALL_SCHEDULE_DELETE : CALL_SCHEDULE, &r);
    if (st == RS_CLIENT_OK && out != NULL)
        *out = r.schedule;
    else if (st == RS_CLIENT_OK)
        rs_schedule_info_free(r.schedule);
    return st;
}

enum rs_client_status rs_schedule_get(struct rs_client *c, const char *name,
                                      struct rs_schedule_info **out)
{
    if (out == NULL)
        return RS_CLIENT_E_ARG;
    return schedules_by_name(c, RS_MSG_SCHEDULE_GET, name, out);
}

enum rs_client_status rs_schedule_pause(struct rs_client *c, const char *name,
                                        struct rs_schedule_info **out)
{
    return schedules_by_name(c, RS_MSG_SCHEDULE_PAUSE, name, out);
}

enum rs_client_status rs_schedule_resume(struct rs_client *c, const char *name,
                                         struct rs_schedule_info **out)
{
    return schedules_by_name(c, RS_MSG_SCHEDULE_RESUME, name, out);
}

enum rs_client_status rs_schedule_delete(struct rs_client *c, const char *name)
{
    return schedules_by_name(c, RS_MSG_SCHEDULE_DELETE, name, NULL);
}

enum rs_client_status rs_schedule_list(struct rs_client *c, const char *after, unsigned limit,
                                       struct rs_schedule_page **out)
{
    if (c == NULL || out == NULL)
        return RS_CLIENT_E_ARG;
    *out = NULL;
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_SCHEDULE_LIST;
    enum rs_client_status st = client_begin(c);
    if (st != RS_CLIENT_OK)
        return st;
    if (limit > RS_MAX_LIST)
        return client_fail(c, RS_CLIENT_E_ARG, "limit must be 1..%u (0: 100)", RS_MAX_LIST);
    if (limit > 0) {
        m.u.slist.has |= RS_HAS_SCHEDULE_LIMIT;
        m.u.slist.limit = limit;
    }
    if (after != NULL &&
        (st = schedules_arg(c, "cursor", after, RS_MAX_SCHEDULE_NAME, &m.u.slist.after)) != 0)
        return st;
    struct client_reply r;
    st = schedules_call(c, &m, CALL_SCHEDULES, &r);
    if (st == RS_CLIENT_OK)
        *out = r.schedules;
    return st;
}
