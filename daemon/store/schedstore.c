/*
 * schedstore: parameters in, decoded rows out, for the statements of schedstmts.c.
 */
#include "schedstore.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "pgbin.h"
#include "schedstmts.h"
#include "stmts.h"

#define SCHEDSTORE_MAX_PARAMS 14

/* One statement in flight: which callback, and for whom. */
struct schedstore_op {
    union {
        schedstore_rows_cb rows;
        schedstore_count_cb count;
        schedstore_next_cb next;
        schedstore_due_cb due;
        schedstore_fire_cb fire;
    } cb;
    void *arg;
};

/* Submit statement id with binary parameters and results; frees op when refused. */
static enum pgconn_status schedstore_submit(struct pgconn *c, enum stmt_id id, int n,
                                            const char *const *values, const int *lengths,
                                            pgconn_cb done, struct schedstore_op *op)
{
    static const int binary[SCHEDSTORE_MAX_PARAMS] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    if (op == NULL)
        return PGCONN_NOMEM;
    struct pgconn_stmt st = {
        .name = stmts_name(id),
        .nparams = n,
        .values = values,
        .lengths = lengths,
        .formats = binary,
        .result_format = 1,
        .cb = done,
        .arg = op,
    };
    enum pgconn_status s = pgconn_submit(c, &st, 1);
    if (s != PGCONN_OK)
        free(op);
    return s;
}

static struct schedstore_op *schedstore_op(void *arg)
{
    struct schedstore_op *op = calloc(1, sizeof(*op));
    if (op != NULL)
        op->arg = arg;
    return op;
}

/* A text column, or NULL. */
static const char *schedstore_text(const PGresult *res, int row, int col)
{
    const char *data;
    size_t len;
    return pgbin_bytes(res, row, col, &data, &len) ? data : NULL;
}

/* A float4 column. */
static bool schedstore_f32(const PGresult *res, int row, int col, float *out)
{
    if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != 4)
        return false;
    uint32_t v;
    memcpy(&v, PQgetvalue(res, row, col), 4);
    v = ntohl(v);
    memcpy(out, &v, 4);
    return true;
}

/* An int8 column that may be NULL. */
static bool schedstore_opt_i64(const PGresult *res, int row, int col, bool *has, int64_t *out)
{
    *has = !PQgetisnull(res, row, col);
    return !*has || pgbin_i64(res, row, col, out);
}

/* Decode one schedule row. */
static bool schedstore_row(const PGresult *res, int i, struct schedstore_row *r)
{
    const char *backoff;
    size_t args_len;
    const char *args;
    memset(r, 0, sizeof(*r));
    r->name = schedstore_text(res, i, SCHEDCOL_NAME);
    r->function = schedstore_text(res, i, SCHEDCOL_FUNCTION);
    r->cron = schedstore_text(res, i, SCHEDCOL_CRON);
    r->zone = schedstore_text(res, i, SCHEDCOL_ZONE);
    backoff = schedstore_text(res, i, SCHEDCOL_BACKOFF);
    if (r->name == NULL || r->function == NULL || r->cron == NULL || r->zone == NULL ||
        backoff == NULL || !pgbin_bytes(res, i, SCHEDCOL_ARGS, &args, &args_len))
        return false;
    r->args = args;
    r->args_len = args_len;
    if (strcmp(backoff, "fixed") == 0)
        r->backoff = JOBSTORE_BACKOFF_FIXED;
    else if (strcmp(backoff, "linear") == 0)
        r->backoff = JOBSTORE_BACKOFF_LINEAR;
    else
        r->backoff = JOBSTORE_BACKOFF_EXPONENTIAL;
    return pgbin_i32(res, i, SCHEDCOL_MAX_ATTEMPTS, &r->max_attempts) &&
           pgbin_i64(res, i, SCHEDCOL_INITIAL_DELAY_MS, &r->initial_delay_ms) &&
           pgbin_i64(res, i, SCHEDCOL_MAX_DELAY_MS, &r->max_delay_ms) &&
           schedstore_f32(res, i, SCHEDCOL_JITTER, &r->jitter) &&
           pgbin_i32(res, i, SCHEDCOL_TIMEOUT_MS, &r->timeout_ms) &&
           pgbin_i16(res, i, SCHEDCOL_PRIORITY, &r->priority) &&
           pgbin_bool(res, i, SCHEDCOL_PAUSED, &r->paused) &&
           schedstore_opt_i64(res, i, SCHEDCOL_NEXT_RUN_AT, &r->has_next_run_at,
                              &r->next_run_at_ms) &&
           schedstore_opt_i64(res, i, SCHEDCOL_LAST_RUN_AT, &r->has_last_run_at,
                              &r->last_run_at_ms) &&
           pgbin_i64(res, i, SCHEDCOL_CREATED_AT, &r->created_at_ms);
}

/* One schedule row, for jobstore_rows. */
static bool schedstore_row_at(const PGresult *res, int i, void *out)
{
    return PQnfields(res) == SCHEDCOL_COUNT && schedstore_row(res, i, out);
}

/* Out of memory reading rows: the statement's effect (if any) is committed. */
static const struct jobstore_err schedstore_nomem = {"out of memory reading schedules", "", true,
                                                     false};

/* Rows of schedules came back. */
static void schedstore_rows_done(void *arg, PGresult *res, const char *err)
{
    struct schedstore_op *op = arg;
    struct jobstore_err e;
    void *rows;
    size_t n;
    const struct jobstore_err *fail =
        jobstore_rows(res, err, &e, sizeof(struct schedstore_row), schedstore_row_at,
                      &schedstore_nomem, &rows, &n);
    op->cb.rows(op->arg, fail == NULL ? rows : NULL, n, fail);
    free(rows);
    free(op);
}

/* Rows counted (delete). */
static void schedstore_count_done(void *arg, PGresult *res, const char *err)
{
    struct schedstore_op *op = arg;
    struct jobstore_err e;
    if (err != NULL) {
        jobstore_err_from(&e, res, err);
        op->cb.count(op->arg, 0, &e);
    } else {
        op->cb.count(op->arg, (size_t)PQntuples(res), NULL);
    }
    free(op);
}

/* The earliest next run. */
static void schedstore_next_done(void *arg, PGresult *res, const char *err)
{
    struct schedstore_op *op = arg;
    struct jobstore_err e;
    int64_t v = 0;
    bool has = false;
    if (err != NULL) {
        jobstore_err_from(&e, res, err);
        op->cb.next(op->arg, false, 0, &e);
    } else if (PQntuples(res) != 1 || !schedstore_opt_i64(res, 0, 0, &has, &v)) {
        op->cb.next(op->arg, false, 0, &jobstore_bad_shape);
    } else {
        op->cb.next(op->arg, has, v, NULL);
    }
    free(op);
}

/* One due schedule. */
static bool schedstore_due_at(const PGresult *res, int i, void *out)
{
    struct schedstore_due *d = out;
    if (PQnfields(res) != 4)
        return false;
    d->name = schedstore_text(res, i, 0);
    d->cron = schedstore_text(res, i, 1);
    d->zone = schedstore_text(res, i, 2);
    return d->name != NULL && d->cron != NULL && d->zone != NULL &&
           pgbin_i64(res, i, 3, &d->next_run_at_ms);
}

/* The due schedules. */
static void schedstore_due_done(void *arg, PGresult *res, const char *err)
{
    struct schedstore_op *op = arg;
    struct jobstore_err e;
    void *rows;
    size_t n;
    const struct jobstore_err *fail =
        jobstore_rows(res, err, &e, sizeof(struct schedstore_due), schedstore_due_at,
                      &schedstore_nomem, &rows, &n);
    op->cb.due(op->arg, fail == NULL ? rows : NULL, n, fail);
    free(rows);
    free(op);
}

/* One run fired (or not). */
static void schedstore_fire_done(void *arg, PGresult *res, const char *err)
{
    struct schedstore_op *op = arg;
    struct jobstore_err e;
    int64_t moved = 0, job = 0;
    bool has_job = false;
    if (err != NULL) {
        jobstore_err_from(&e, res, err);
        op->cb.fire(op->arg, false, 0, &e);
    } else if (PQntuples(res) != 1 || !pgbin_i64(res, 0, 0, &moved) ||
               !schedstore_opt_i64(res, 0, 1, &has_job, &job)) {
        op->cb.fire(op->arg, false, 0, &jobstore_bad_shape);
    } else {
        op->cb.fire(op->arg, moved > 0, has_job ? job : 0, NULL);
    }
    free(op);
}

/* The length of a text parameter. */
static int schedstore_len(const char *s)
{
    return s != NULL ? (int)strlen(s) : 0;
}

enum pgconn_status schedstore_put(struct pgconn *c, const struct schedstore_put *p,
                                  schedstore_rows_cb cb, void *arg)
{
    static const char *const backoffs[] = {"exponential", "fixed", "linear"};
    char ma[4], id[8], md[8], ji[4], to[4], pr[2], pa[1], nx[8];
    uint32_t jbits;
    uint16_t prio = htons((uint16_t)p->priority);
    memcpy(&jbits, &p->jitter, 4);
    jbits = htonl(jbits);
    memcpy(ji, &jbits, 4);
    memcpy(pr, &prio, 2);
    pgbin_put_i32(ma, p->max_attempts);
    pgbin_put_i64(id, p->initial_delay_ms);
    pgbin_put_i64(md, p->max_delay_ms);
    pgbin_put_i32(to, p->timeout_ms);
    pgbin_put_i64(nx, p->next_run_ms);
    pa[0] = p->paused > 0 ? 1 : 0;
    const char *backoff = backoffs[p->backoff <= JOBSTORE_BACKOFF_LINEAR ? p->backoff : 0];
    const char *values[14] = {
        p->name, p->function, p->cron, p->zone, p->args != NULL ? p->args : "", ma, backoff, id,
        md,      ji,          to,      pr,      p->paused < 0 ? NULL : pa,      nx};
    const int lengths[14] = {schedstore_len(p->name),
                             schedstore_len(p->function),
                             schedstore_len(p->cron),
                             schedstore_len(p->zone),
                             (int)p->args_len,
                             4,
                             (int)strlen(backoff),
                             8,
                             8,
                             4,
                             4,
                             2,
                             1,
                             8};
    struct schedstore_op *op = cb != NULL ? schedstore_op(arg) : NULL;
    if (cb == NULL)
        return PGCONN_INVALID;
    if (op != NULL)
        op->cb.rows = cb;
    return schedstore_submit(c, STMT_SCHEDULE_PUT, 14, values, lengths, schedstore_rows_done, op);
}

/* A statement whose one parameter is a schedule name, answered with rows. */
static enum pgconn_status schedstore_by_name(struct pgconn *c, enum stmt_id id, const char *name,
                                             schedstore_rows_cb cb, void *arg)
{
    const char *values[1] = {name};
    const int lengths[1] = {schedstore_len(name)};
    if (cb == NULL)
        return PGCONN_INVALID;
    struct schedstore_op *op = schedstore_op(arg);
    if (op != NULL)
        op->cb.rows = cb;
    return schedstore_submit(c, id, 1, values, lengths, schedstore_rows_done, op);
}

enum pgconn_status schedstore_get(struct pgconn *c, const char *name, schedstore_rows_cb cb,
                                  void *arg)
{
    return schedstore_by_name(c, STMT_SCHEDULE_GET, name, cb, arg);
}

enum pgconn_status schedstore_pause(struct pgconn *c, const char *name, schedstore_rows_cb cb,
                                    void *arg)
{
    return schedstore_by_name(c, STMT_SCHEDULE_PAUSE, name, cb, arg);
}

enum pgconn_status schedstore_list(struct pgconn *c, const char *after, int32_t limit,
                                   schedstore_rows_cb cb, void *arg)
{
    char lim[4];
    pgbin_put_i32(lim, limit);
    const char *values[2] = {after, lim};
    const int lengths[2] = {schedstore_len(after), 4};
    if (cb == NULL)
        return PGCONN_INVALID;
    struct schedstore_op *op = schedstore_op(arg);
    if (op != NULL)
        op->cb.rows = cb;
    return schedstore_submit(c, STMT_SCHEDULE_LIST, 2, values, lengths, schedstore_rows_done, op);
}

enum pgconn_status schedstore_resume(struct pgconn *c, const char *name, const char *cron,
                                     const char *zone, int64_t next_run_ms, schedstore_rows_cb cb,
                                     void *arg)
{
    char nx[8];
    pgbin_put_i64(nx, next_run_ms);
    const char *values[4] = {name, cron, zone, nx};
    const int lengths[4] = {schedstore_len(name), schedstore_len(cron), schedstore_len(zone), 8};
    if (cb == NULL)
        return PGCONN_INVALID;
    struct schedstore_op *op = schedstore_op(arg);
    if (op != NULL)
        op->cb.rows = cb;
    return schedstore_submit(c, STMT_SCHEDULE_RESUME, 4, values, lengths, schedstore_rows_done, op);
}

enum pgconn_status schedstore_delete(struct pgconn *c, const char *name, schedstore_count_cb cb,
                                     void *arg)
{
    const char *values[1] = {name};
    const int lengths[1] = {schedstore_len(name)};
    if (cb == NULL)
        return PGCONN_INVALID;
    struct schedstore_op *op = schedstore_op(arg);
    if (op != NULL)
        op->cb.count = cb;
    return schedstore_submit(c, STMT_SCHEDULE_DELETE, 1, values, lengths, schedstore_count_done,
                             op);
}

enum pgconn_status schedstore_next(struct pgconn *c, schedstore_next_cb cb, void *arg)
{
    char one[4];
    pgbin_put_i32(one, 1);
    const char *values[1] = {one};
    const int lengths[1] = {4};
    if (cb == NULL)
        return PGCONN_INVALID;
    struct schedstore_op *op = schedstore_op(arg);
    if (op != NULL)
        op->cb.next = cb;
    return schedstore_submit(c, STMT_SCHEDULE_NEXT, 1, values, lengths, schedstore_next_done, op);
}

enum pgconn_status schedstore_due(struct pgconn *c, int64_t now_ms, int32_t limit,
                                  schedstore_due_cb cb, void *arg)
{
    char now[8], lim[4];
    pgbin_put_i64(now, now_ms);
    pgbin_put_i32(lim, limit);
    const char *values[2] = {now, lim};
    const int lengths[2] = {8, 4};
    if (cb == NULL)
        return PGCONN_INVALID;
    struct schedstore_op *op = schedstore_op(arg);
    if (op != NULL)
        op->cb.due = cb;
    return schedstore_submit(c, STMT_SCHEDULE_DUE, 2, values, lengths, schedstore_due_done, op);
}

enum pgconn_status schedstore_fire(struct pgconn *c, const char *name, int64_t stored_due_ms,
                                   int64_t run_due_ms, int64_t next_run_ms, const char *key,
                                   schedstore_fire_cb cb, void *arg)
{
    char sd[8], rd[8], nx[8];
    pgbin_put_i64(sd, stored_due_ms);
    pgbin_put_i64(rd, run_due_ms);
    pgbin_put_i64(nx, next_run_ms);
    const char *values[5] = {name, sd, rd, nx, key};
    const int lengths[5] = {schedstore_len(name), 8, 8, 8, schedstore_len(key)};
    if (cb == NULL)
        return PGCONN_INVALID;
    struct schedstore_op *op = schedstore_op(arg);
    if (op != NULL)
        op->cb.fire = cb;
    return schedstore_submit(c, STMT_SCHEDULE_FIRE, 5, values, lengths, schedstore_fire_done, op);
}
