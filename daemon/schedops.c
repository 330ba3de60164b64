/*
 * The schedule requests (schedops.h): each is one statement, resume is a read and a guarded
 * update. Replies after the commit; every change notifies all daemons ("s:"), whose timers
 * re-read the earliest next run.
 */
#include "schedops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "engine.h"
#include "log.h"
#include "request.h"
#include "schedclock.h"
#include "schedstore.h"
#include "schedtimer.h"

/* One request waiting for the store. Owner: the store callback. */
struct schedop {
    struct request req;
    struct engine *e;
    enum rs_msg_type type;
    char name[RS_MAX_SCHEDULE_NAME + 1];
};

/* A reply was sent, or the connection closed meanwhile: nothing more to do either way. */
static void schedops_sent(int rc)
{
    (void)rc;
}

/* A NUL-terminated copy of a wire string that fits out (the decoder bounded it). */
static void schedops_copy(char *out, size_t size, struct rs_str s)
{
    size_t n = s.ptr != NULL ? s.len : 0;
    if (n >= size)
        n = size - 1;
    if (n > 0)
        memcpy(out, s.ptr, n);
    out[n] = '\0';
}

/* A SCHEDULE of a stored row. */
static void schedops_to_msg(const struct schedstore_row *r, struct rs_schedule *out)
{
    memset(out, 0, sizeof(*out));
    out->name = (struct rs_str){r->name, (uint32_t)strlen(r->name)};
    out->function = (struct rs_str){r->function, (uint32_t)strlen(r->function)};
    out->cron = (struct rs_str){r->cron, (uint32_t)strlen(r->cron)};
    out->zone = (struct rs_str){r->zone, (uint32_t)strlen(r->zone)};
    out->args = (struct rs_bytes){(const uint8_t *)r->args, (uint32_t)r->args_len};
    out->max_attempts = (uint64_t)r->max_attempts;
    out->backoff = (enum rs_backoff)r->backoff;
    out->initial_delay_ms = (uint64_t)r->initial_delay_ms;
    out->max_delay_ms = (uint64_t)r->max_delay_ms;
    out->jitter = r->jitter;
    out->timeout_ms = (uint64_t)r->timeout_ms;
    out->priority = r->priority;
    out->paused = r->paused;
    if (r->has_next_run_at) {
        out->has |= RS_HAS_NEXT_RUN_AT;
        out->next_run_at = r->next_run_at_ms;
    }
    if (r->has_last_run_at) {
        out->has |= RS_HAS_LAST_RUN_AT;
        out->last_run_at = r->last_run_at_ms;
    }
    out->created_at = r->created_at_ms;
}

/* Detach op's request; answer a store failure. Returns the connection to answer or NULL. */
static struct conn *schedops_answer(struct schedop *op, const struct jobstore_err *err)
{
    struct conn *c = request_detach(&op->req);
    if (c != NULL && err != NULL) {
        if (engine_reply_store_error(c, op->req.id, rs_msg_type_name(op->type), err) != 0)
            return NULL;
        return NULL;
    }
    return c;
}

/* One schedule (PUT, GET, PAUSE, RESUME) came back. */
static void schedops_on_one(void *arg, const struct schedstore_row *rows, size_t n,
                            const struct jobstore_err *err)
{
    struct schedop *op = arg;
    if (err == NULL && op->type != RS_MSG_SCHEDULE_GET)
        schedtimer_rearm(op->e->schedtimer);
    if (err == NULL && n == 1 && op->type != RS_MSG_SCHEDULE_GET)
        log_info("schedule \"%s\": %s", op->name, rs_msg_type_name(op->type));
    struct conn *c = schedops_answer(op, err);
    if (c == NULL)
        goto out;
    if (n == 0) {
        if (op->type == RS_MSG_SCHEDULE_RESUME)
            schedops_sent(conn_send_error(
                c, op->req.id, RS_E_CONFLICT, true,
                "schedule \"%s\" changed or vanished meanwhile; try again", op->name));
        else
            schedops_sent(conn_send_error(c, op->req.id, RS_E_NOT_FOUND, false,
                                          "no schedule \"%s\"", op->name));
        goto out;
    }
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_SCHEDULE;
    m.request_id = op->req.id;
    schedops_to_msg(&rows[0], &m.u.schedule);
    schedops_sent(conn_send(c, &m));
out:
    free(op);
}

/* RESUME's read came back: compute the next run from now, then the guarded update. */
static void schedops_on_resume_read(void *arg, const struct schedstore_row *rows, size_t n,
                                    const struct jobstore_err *err)
{
    struct schedop *op = arg;
    char why[256];
    int64_t next = 0;
    if (err != NULL || n == 0) {
        op->type = RS_MSG_SCHEDULE_GET; /* answered as a read: not_found */
        schedops_on_one(op, rows, n, err);
        return;
    }
    if (schedclock_next(rows[0].cron, rows[0].zone,
                        schedclock_now(schedtimer_scale(op->e->schedtimer)), &next, why,
                        sizeof(why)) != 0) {
        struct conn *c = request_detach(&op->req);
        if (c != NULL)
            schedops_sent(conn_send_error(c, op->req.id, RS_E_BAD_VALUE, false, "%s", why));
        free(op);
        return;
    }
    enum pgconn_status st = schedstore_resume(op->e->db, rows[0].name, rows[0].cron, rows[0].zone,
                                              next, schedops_on_one, op);
    if (st != PGCONN_OK) {
        struct conn *c = request_detach(&op->req);
        if (c != NULL)
            schedops_sent(engine_reply_submit_error(c, op->req.id, "SCHEDULE_RESUME", (int)st));
        free(op);
    }
}

/* DELETE came back. */
static void schedops_on_delete(void *arg, size_t n, const struct jobstore_err *err)
{
    struct schedop *op = arg;
    if (err == NULL) {
        schedtimer_rearm(op->e->schedtimer);
        if (n > 0)
            log_info("schedule \"%s\": deleted", op->name);
    }
    struct conn *c = schedops_answer(op, err);
    if (c == NULL)
        goto out;
    if (n == 0) {
        schedops_sent(
            conn_send_error(c, op->req.id, RS_E_NOT_FOUND, false, "no schedule \"%s\"", op->name));
        goto out;
    }
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_OK;
    m.request_id = op->req.id;
    schedops_sent(conn_send(c, &m));
out:
    free(op);
}

/* LIST came back: one row more than the page was asked for. */
static void schedops_on_list(void *arg, const struct schedstore_row *rows, size_t n,
                             const struct jobstore_err *err)
{
    struct schedop *op = arg;
    struct rs_schedule *out = NULL;
    struct conn *c = schedops_answer(op, err);
    if (c == NULL)
        goto out;
    size_t limit = (size_t)strtoul(op->name, NULL, 10);
    size_t page = n > limit ? limit : n;
    out = calloc(page > 0 ? page : 1, sizeof(*out));
    if (out == NULL) {
        schedops_sent(conn_send_error(c, op->req.id, RS_E_INTERNAL, true, "out of memory"));
        goto out;
    }
    for (size_t i = 0; i < page; i++)
        schedops_to_msg(&rows[i], &out[i]);
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_SCHEDULES;
    m.request_id = op->req.id;
    m.u.schedules.schedules = out;
    m.u.schedules.nschedules = (uint32_t)page;
    if (n > limit && page > 0)
        m.u.schedules.next = out[page - 1].name;
    schedops_sent(conn_send(c, &m));
out:
    free(out);
    free(op);
}

/* SCHEDULE_PUT: check cron and zone, compute the first run, store. */
static enum pgconn_status schedops_put(struct engine *e, struct conn *c, struct schedop *op,
                                       const struct rs_schedule *s, bool *answered)
{
    char function[RS_MAX_NAME + 1], cron[RS_MAX_CRON + 1], zone[RS_MAX_ZONE + 1], why[512];
    schedops_copy(function, sizeof(function), s->function);
    schedops_copy(cron, sizeof(cron), s->cron);
    if (s->zone.ptr != NULL)
        schedops_copy(zone, sizeof(zone), s->zone);
    else
        snprintf(zone, sizeof(zone), "UTC");
    int64_t next = 0;
    if (schedclock_check(cron, zone, why, sizeof(why)) != 0 ||
        schedclock_next(cron, zone, schedclock_now(schedtimer_scale(e->schedtimer)), &next, why,
                        sizeof(why)) != 0) {
        *answered = true;
        schedops_sent(
            conn_send_error(c, op->req.id, RS_E_BAD_VALUE, false, "SCHEDULE_PUT: %s", why));
        return PGCONN_OK;
    }
    struct schedstore_put p = {
        .name = op->name,
        .function = function,
        .cron = cron,
        .zone = zone,
        .args = s->args.ptr,
        .args_len = s->args.ptr != NULL ? s->args.len : 0,
        .max_attempts = (int32_t)s->max_attempts,
        .backoff =
            s->has_backoff ? (enum jobstore_backoff)s->backoff : JOBSTORE_BACKOFF_EXPONENTIAL,
        .initial_delay_ms = (int64_t)s->initial_delay_ms,
        .max_delay_ms = (int64_t)s->max_delay_ms,
        .jitter = (float)s->jitter,
        .timeout_ms = (int32_t)s->timeout_ms,
        .priority = (int16_t)s->priority,
        .paused = (s->has & RS_HAS_PAUSED) ? (s->paused ? 1 : 0) : -1,
        .next_run_ms = next,
    };
    return schedstore_put(e->db, &p, schedops_on_one, op);
}

int schedops_handle(struct engine *e, struct conn *c, const struct rs_msg *msg)
{
    struct schedop *op = calloc(1, sizeof(*op));
    if (op == NULL)
        return conn_send_error(c, msg->request_id, RS_E_INTERNAL, true, "out of memory");
    op->e = e;
    op->type = msg->type;
    op->req.id = msg->request_id;
    enum pgconn_status st;
    bool answered = false;
    switch (msg->type) {
    case RS_MSG_SCHEDULE_PUT:
        schedops_copy(op->name, sizeof(op->name), msg->u.schedule.name);
        st = schedops_put(e, c, op, &msg->u.schedule, &answered);
        break;
    case RS_MSG_SCHEDULE_GET:
    case RS_MSG_SCHEDULE_PAUSE:
    case RS_MSG_SCHEDULE_RESUME:
    case RS_MSG_SCHEDULE_DELETE:
        schedops_copy(op->name, sizeof(op->name), msg->u.sref.name);
        if (msg->type == RS_MSG_SCHEDULE_GET)
            st = schedstore_get(e->db, op->name, schedops_on_one, op);
        else if (msg->type == RS_MSG_SCHEDULE_PAUSE)
            st = schedstore_pause(e->db, op->name, schedops_on_one, op);
        else if (msg->type == RS_MSG_SCHEDULE_RESUME)
            st = schedstore_get(e->db, op->name, schedops_on_resume_read, op);
        else
            st = schedstore_delete(e->db, op->name, schedops_on_delete, op);
        break;
    case RS_MSG_SCHEDULE_LIST: {
        const struct rs_schedule_list *l = &msg->u.slist;
        char after[RS_MAX_SCHEDULE_NAME + 1];
        schedops_copy(after, sizeof(after), l->after);
        /* the page size travels in name: LIST has no schedule name */
        snprintf(op->name, sizeof(op->name), "%u", (unsigned)l->limit);
        st = schedstore_list(e->db, l->after.ptr != NULL ? after : NULL, (int32_t)l->limit + 1,
                             schedops_on_list, op);
        break;
    }
    default:
        st = PGCONN_INVALID;
        break;
    }
    if (answered) {
        free(op);
        return c->closed ? -1 : 0;
    }
    if (st != PGCONN_OK) {
        free(op);
        return engine_reply_submit_error(c, msg->request_id, rs_msg_type_name(msg->type), (int)st);
    }
    request_attach(&op->req, c, msg->request_id);
    return 0;
}
