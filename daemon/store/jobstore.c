/*
 * jobstore: parameters in (binary arrays, one per column of a batch), rows out. Each operation
 * owns a small struct from submit until its last pgconn callback, which calls the user's.
 */
#include "jobstore.h"

#include "pgbin.h"
#include "stmts.h"

#include <stdlib.h>
#include <string.h>

/* Most parameters any statement takes. */
#define JOBSTORE_MAX_PARAMS 16

static const char *const jobstore_status_names[] = {
    [JOBSTORE_PENDING] = "pending",     [JOBSTORE_RUNNING] = "running",
    [JOBSTORE_SUCCESS] = "success",     [JOBSTORE_DEAD] = "dead",
    [JOBSTORE_CANCELLED] = "cancelled",
};

static const char *const jobstore_backoff_names[] = {
    [JOBSTORE_BACKOFF_EXPONENTIAL] = "exponential",
    [JOBSTORE_BACKOFF_FIXED] = "fixed",
    [JOBSTORE_BACKOFF_LINEAR] = "linear",
};

const char *jobstore_status_name(enum jobstore_status s)
{
    return (unsigned)s <= JOBSTORE_CANCELLED ? jobstore_status_names[s] : NULL;
}

int jobstore_status_parse(const char *s)
{
    for (int i = 0; i <= JOBSTORE_CANCELLED; i++) {
        if (s != NULL && strcmp(s, jobstore_status_names[i]) == 0)
            return i;
    }
    return -1;
}

void jobstore_new_defaults(struct jobstore_new *job, const char *name, size_t name_len)
{
    memset(job, 0, sizeof(*job));
    job->name = name;
    job->name_len = name_len;
    job->max_attempts = 3;
    job->backoff = JOBSTORE_BACKOFF_EXPONENTIAL;
    job->initial_delay_ms = 1000;
    job->max_delay_ms = 60000;
    job->jitter = 0.1f;
    job->timeout_ms = 30000;
}

/* A failure as the user callbacks see it. */
void jobstore_err_from(struct jobstore_err *e, const PGresult *res, const char *err)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    e->message = err;
    e->sqlstate = state != NULL ? state : "";
    e->retryable = pgconn_retryable(res);
    e->in_doubt = res == NULL && strncmp(err, PGCONN_IN_DOUBT, strlen(PGCONN_IN_DOUBT)) == 0;
}

const struct jobstore_err jobstore_bad_shape = {
    "unexpected result shape from PostgreSQL (schema of another version?)", "", false, false};

/* Submit one statement whose parameters are all binary (NULL values allowed). */
static enum pgconn_status jobstore_submit1(struct pgconn *c, enum stmt_id id, int nparams,
                                           const char *const *values, const int *lengths,
                                           pgconn_cb cb, void *arg)
{
    static const int binary[JOBSTORE_MAX_PARAMS] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    struct pgconn_stmt st = {
        .name = stmts_name(id),
        .nparams = nparams,
        .values = values,
        .lengths = lengths,
        .formats = binary,
        .result_format = 1,
        .cb = cb,
        .arg = arg,
    };

    return pgconn_submit(c, &st, 1);
}

/* One statement's callback and argument, carried to its result handler (which frees it).
 * Owner: the pending statement. */
struct jobstore_op {
    union {
        jobstore_get_cb get;
        jobstore_change_cb change;
        jobstore_list_cb list;
        jobstore_next_cb next;
        jobstore_snapshot_cb snapshot;
        jobstore_moved_cb moved;
        jobstore_done_cb done;
    } cb;
    void *arg;
    int32_t limit; /* list: the page size (one more row was asked for) */
};

/* An op carrying arg; the caller sets the callback member its result handler reads. */
static struct jobstore_op *jobstore_op_new(void *arg)
{
    struct jobstore_op *op = calloc(1, sizeof(*op));

    if (op != NULL)
        op->arg = arg;
    return op;
}

/* Submit a statement whose result handler done gets op (freed here when not submitted). */
static enum pgconn_status jobstore_submit_op(struct pgconn *c, enum stmt_id id, int nparams,
                                             const char *const *values, const int *lengths,
                                             pgconn_cb done, struct jobstore_op *op)
{
    enum pgconn_status st;

    if (op == NULL)
        return PGCONN_NOMEM;
    st = jobstore_submit1(c, id, nparams, values, lengths, done, op);
    if (st != PGCONN_OK)
        free(op);
    return st;
}

/* A text column (libpq NUL-terminates every value) or NULL. */
static const char *jobstore_text(const PGresult *res, int row, int col)
{
    const char *data;
    size_t len;

    return pgbin_bytes(res, row, col, &data, &len) ? data : NULL;
}

static bool jobstore_status_col(const PGresult *res, int row, int col, enum jobstore_status *out)
{
    int s = jobstore_status_parse(jobstore_text(res, row, col));

    if (s < 0)
        return false;
    *out = (enum jobstore_status)s;
    return true;
}

/* Decode the job columns (enum stmts_job_col) starting at column col0. */
static bool jobstore_read_job(const PGresult *res, int row, int col0, struct jobstore_job *j)
{
    size_t len;

    memset(j, 0, sizeof(*j));
    if (PQnfields(res) < col0 + JOBCOL_COUNT || !pgbin_i64(res, row, col0 + JOBCOL_ID, &j->id) ||
        (j->name = jobstore_text(res, row, col0 + JOBCOL_NAME)) == NULL ||
        !jobstore_status_col(res, row, col0 + JOBCOL_STATUS, &j->status) ||
        !pgbin_i32(res, row, col0 + JOBCOL_ATTEMPT, &j->attempt) ||
        !pgbin_i32(res, row, col0 + JOBCOL_MAX_ATTEMPTS, &j->max_attempts) ||
        !pgbin_i32(res, row, col0 + JOBCOL_UNCOUNTED, &j->uncounted) ||
        !pgbin_bytes(res, row, col0 + JOBCOL_ARGS, &j->args, &j->args_len) ||
        !pgbin_i16(res, row, col0 + JOBCOL_PRIORITY, &j->priority) ||
        !pgbin_i64(res, row, col0 + JOBCOL_CREATED_AT, &j->created_at_ms) ||
        !pgbin_i64(res, row, col0 + JOBCOL_RUN_AT, &j->run_at_ms))
        return false;
    j->has_result = pgbin_bytes(res, row, col0 + JOBCOL_RESULT, &j->result, &j->result_len);
    j->error = jobstore_text(res, row, col0 + JOBCOL_ERROR);
    j->key = jobstore_text(res, row, col0 + JOBCOL_KEY);
    j->has_started_at = pgbin_i64(res, row, col0 + JOBCOL_STARTED_AT, &j->started_at_ms);
    j->has_finished_at = pgbin_i64(res, row, col0 + JOBCOL_FINISHED_AT, &j->finished_at_ms);
    if (pgbin_i64(res, row, col0 + JOBCOL_PARENT, &j->parent_id) &&
        !pgbin_i32(res, row, col0 + JOBCOL_STEP, &j->step))
        return false;
    (void)len;
    return true;
}

/* --- enqueue ------------------------------------------------------------------------------ */

/* Owned by the batch: freed by the second (last) callback. */
struct jobstore_enqueue_op {
    jobstore_enqueue_cb cb;
    void *arg;
    size_t n;
    bool failed;
    bool alone;                    /* no input has a key: the insert is the only statement */
    struct jobstore_enqueued *out; /* n entries; id 0 = not known yet */
};

static void jobstore_enqueue_keys(void *arg, PGresult *res, const char *err);

/* First statement: the jobs created, by input position. Without keys it is the only one. */
static void jobstore_enqueue_ins(void *arg, PGresult *res, const char *err)
{
    struct jobstore_enqueue_op *op = arg;

    if (op->alone) {
        /* No input has a key: nothing to look up, every input was created. */
        op->alone = false;
        if (err == NULL)
            jobstore_enqueue_ins(op, res, NULL);
        jobstore_enqueue_keys(op, err != NULL ? res : NULL, err);
        return;
    }
    if (err != NULL || op->failed) {
        op->failed = true; /* the batch failed: the second callback reports it */
        return;
    }
    for (int row = 0; row < PQntuples(res); row++) {
        int64_t ord, id, run_at, deadline;

        if (!pgbin_i64(res, row, 0, &ord) || !pgbin_i64(res, row, 1, &id) ||
            !pgbin_i64(res, row, 2, &run_at) || ord < 1 || (uint64_t)ord > op->n) {
            op->failed = true;
            return;
        }
        op->out[ord - 1].id = id;
        op->out[ord - 1].run_at_ms = run_at;
        if (pgbin_i64(res, row, 3, &deadline)) {
            op->out[ord - 1].claimed = true;
            op->out[ord - 1].deadline_ms = deadline;
        }
    }
}

/* Second statement: the holder of every key; inputs not created above were deduplicated. */
static void jobstore_enqueue_keys(void *arg, PGresult *res, const char *err)
{
    struct jobstore_enqueue_op *op = arg;
    struct jobstore_err e;
    const struct jobstore_err *fail = NULL;

    if (err != NULL) {
        jobstore_err_from(&e, res, err);
        fail = &e;
    } else if (op->failed) {
        fail = &jobstore_bad_shape;
    } else {
        for (int row = 0; res != NULL && row < PQntuples(res) && fail == NULL; row++) {
            int64_t ord, id, revived_at;

            if (!pgbin_i64(res, row, 0, &ord) || !pgbin_i64(res, row, 1, &id) || ord < 1 ||
                (uint64_t)ord > op->n) {
                fail = &jobstore_bad_shape;
            } else if (op->out[ord - 1].id == 0) {
                op->out[ord - 1].id = id;
                op->out[ord - 1].deduplicated = true;
                if (pgbin_i64(res, row, 2, &revived_at)) {
                    op->out[ord - 1].revived = true;
                    op->out[ord - 1].run_at_ms = revived_at;
                }
            }
        }
        for (size_t i = 0; i < op->n && fail == NULL; i++) {
            /* A key's holder vanished between the two statements (deleted meanwhile). */
            if (op->out[i].id == 0) {
                static const struct jobstore_err vanished = {
                    "the job holding this idempotency key disappeared during enqueue", "", true,
                    false};
                fail = &vanished;
            }
        }
    }
    if (fail != NULL)
        op->cb(op->arg, NULL, 0, fail);
    else
        op->cb(op->arg, op->out, op->n, NULL);
    free(op->out);
    free(op);
}

enum pgconn_status jobstore_enqueue(struct pgconn *c, const uint8_t node[16],
                                    const struct jobstore_new *jobs, size_t n,
                                    jobstore_enqueue_cb cb, void *arg)
{
    static const int binary[JOBSTORE_MAX_PARAMS] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    struct pgbin_buf p[15] = {{0}};
    const char *values[16];
    int lengths[16];
    struct jobstore_enqueue_op *op;
    enum pgconn_status st = PGCONN_NOMEM;
    bool failed = false, any_key = false;

    if (n == 0 || n > INT32_MAX || cb == NULL)
        return PGCONN_INVALID;
    pgbin_array_begin(&p[0], PGBIN_TEXT, n);
    pgbin_array_begin(&p[1], PGBIN_BYTEA, n);
    pgbin_array_begin(&p[2], PGBIN_TEXT, n);
    pgbin_array_begin(&p[3], PGBIN_INT4, n);
    pgbin_array_begin(&p[4], PGBIN_TEXT, n);
    pgbin_array_begin(&p[5], PGBIN_INT8, n);
    pgbin_array_begin(&p[6], PGBIN_INT8, n);
    pgbin_array_begin(&p[7], PGBIN_FLOAT4, n);
    pgbin_array_begin(&p[8], PGBIN_INT4, n);
    pgbin_array_begin(&p[9], PGBIN_INT2, n);
    pgbin_array_begin(&p[10], PGBIN_INT8, n);
    pgbin_array_begin(&p[11], PGBIN_INT8, n);
    pgbin_array_begin(&p[12], PGBIN_INT8, n);
    pgbin_array_begin(&p[13], PGBIN_INT4, n);
    pgbin_array_begin(&p[14], PGBIN_BOOL, n);
    for (size_t i = 0; i < n; i++) {
        const struct jobstore_new *j = &jobs[i];
        const char *backoff = (unsigned)j->backoff <= JOBSTORE_BACKOFF_LINEAR
                                  ? jobstore_backoff_names[j->backoff]
                                  : NULL;

        if (backoff == NULL) {
            for (int k = 0; k < 15; k++)
                pgbin_buf_free(&p[k]);
            return PGCONN_INVALID;
        }
        pgbin_array_bytes(&p[0], j->name, j->name_len);
        pgbin_array_bytes(&p[1], j->args != NULL ? j->args : "", j->args_len);
        any_key |= j->key != NULL;
        if (j->key != NULL)
            pgbin_array_bytes(&p[2], j->key, j->key_len);
        else
            pgbin_array_null(&p[2]);
        pgbin_array_i32(&p[3], j->max_attempts);
        pgbin_array_bytes(&p[4], backoff, strlen(backoff));
        pgbin_array_i64(&p[5], j->initial_delay_ms);
        pgbin_array_i64(&p[6], j->max_delay_ms);
        pgbin_array_f32(&p[7], j->jitter);
        pgbin_array_i32(&p[8], j->timeout_ms);
        pgbin_array_i16(&p[9], j->priority);
        if (j->has_run_at) {
            pgbin_array_i64(&p[10], j->run_at_ms);
            pgbin_array_null(&p[11]);
        } else {
            pgbin_array_null(&p[10]);
            pgbin_array_i64(&p[11], j->delay_ms);
        }
        if (j->parent_id > 0) {
            pgbin_array_i64(&p[12], j->parent_id);
            pgbin_array_i32(&p[13], j->step);
        } else {
            pgbin_array_null(&p[12]);
            pgbin_array_null(&p[13]);
        }
        pgbin_array_bool(&p[14], j->claimed);
    }
    for (int k = 0; k < 15; k++) {
        failed |= p[k].failed || p[k].len > INT32_MAX;
        values[k] = p[k].data;
        lengths[k] = (int)p[k].len;
    }
    values[15] = (const char *)node;
    lengths[15] = 16;
    op = calloc(1, sizeof(*op));
    if (op != NULL)
        op->out = calloc(n, sizeof(*op->out));
    if (!failed && op != NULL && op->out != NULL) {
        /* enqueue_keys takes enqueue's $1 (names), $3 (keys) and $13 (parents). */
        const char *kvalues[3] = {values[0], values[2], values[12]};
        const int klengths[3] = {lengths[0], lengths[2], lengths[12]};
        struct pgconn_stmt batch[2] = {
            {stmts_name(STMT_ENQUEUE), 16, values, lengths, binary, 1, jobstore_enqueue_ins, op},
            {stmts_name(STMT_ENQUEUE_KEYS), 3, kvalues, klengths, binary, 1, jobstore_enqueue_keys,
             op},
        };

        op->cb = cb;
        op->arg = arg;
        op->n = n;
        op->alone = !any_key;
        st = pgconn_submit(c, batch, any_key ? 2 : 1);
    }
    if (st != PGCONN_OK && op != NULL) {
        free(op->out);
        free(op);
    }
    for (int k = 0; k < 15; k++)
        pgbin_buf_free(&p[k]);
    return st;
}

/* --- claim -------------------------------------------------------------------------------- */

struct jobstore_claim_op {
    jobstore_claim_cb cb;
    void *arg;
};

/* Decode the rows of a statement's result into a new array of n elements of size bytes, one
 * decode call per row. Returns NULL with *out (NULL when there are no rows) and *n set, or the
 * failure to report (err is the statement's own; nomem names what ran out). */
const struct jobstore_err *jobstore_rows(PGresult *res, const char *err, struct jobstore_err *e,
                                         size_t size, bool (*decode)(const PGresult *, int, void *),
                                         const struct jobstore_err *nomem, void **out, size_t *n)
{
    char *rows = NULL;
    int count;

    *out = NULL;
    *n = 0;
    if (err != NULL) {
        jobstore_err_from(e, res, err);
        return e;
    }
    count = PQntuples(res);
    if (count > 0 && (rows = calloc((size_t)count, size)) == NULL)
        return nomem;
    for (int row = 0; row < count; row++) {
        if (!decode(res, row, rows + (size_t)row * size)) {
            free(rows);
            return &jobstore_bad_shape;
        }
    }
    *out = rows;
    *n = (size_t)count;
    return NULL;
}

/* One claimed row. */
static bool jobstore_claimed_row(const PGresult *res, int row, void *out)
{
    struct jobstore_claimed *j = out;

    if (!pgbin_i64(res, row, 0, &j->id) || (j->name = jobstore_text(res, row, 1)) == NULL ||
        !pgbin_bytes(res, row, 2, &j->args, &j->args_len) || !pgbin_i32(res, row, 3, &j->attempt) ||
        !pgbin_i32(res, row, 4, &j->max_attempts) || !pgbin_i32(res, row, 5, &j->uncounted) ||
        !pgbin_i64(res, row, 6, &j->deadline_ms) || !pgbin_i32(res, row, 7, &j->timeout_ms))
        return false;
    if (!pgbin_i64(res, row, 8, &j->parent_id))
        j->parent_id = 0;
    return pgbin_i16(res, row, 9, &j->priority) && pgbin_i64(res, row, 10, &j->run_at_us);
}

static void jobstore_claim_done(void *arg, PGresult *res, const char *err)
{
    /* Out of memory: the claim committed; its jobs will time out and be retried. */
    static const struct jobstore_err nomem = {"out of memory reading claimed jobs", "", true,
                                              false};
    struct jobstore_claim_op *op = arg;
    struct jobstore_err e;
    void *jobs;
    size_t n;
    const struct jobstore_err *fail = jobstore_rows(res, err, &e, sizeof(struct jobstore_claimed),
                                                    jobstore_claimed_row, &nomem, &jobs, &n);

    op->cb(op->arg, fail == NULL ? jobs : NULL, n, fail);
    free(jobs);
    free(op);
}

enum pgconn_status jobstore_claim(struct pgconn *c, const uint8_t node[16],
                                  const char *const *names, const int32_t *limits,
                                  const bool *steps_only, const struct jobstore_cursor *cursors,
                                  size_t nnames, int32_t total, jobstore_claim_cb cb, void *arg)
{
    /* No cursor: a priority above every int2, so that the scans at and above it are empty. */
    enum { NO_CURSOR_PRIORITY = 32768 };
    struct pgbin_buf arr[6] = {{0}}; /* names, limits, steps_only, cursor priority, us, id */
    char total_be[4];
    const char *values[8];
    int lengths[8];
    struct jobstore_claim_op *op;
    enum pgconn_status st = PGCONN_NOMEM;
    bool failed = false;

    if (cb == NULL || total < 1)
        return PGCONN_INVALID;
    pgbin_array_begin(&arr[0], PGBIN_TEXT, nnames);
    pgbin_array_begin(&arr[1], PGBIN_INT4, nnames);
    pgbin_array_begin(&arr[2], PGBIN_BOOL, nnames);
    pgbin_array_begin(&arr[3], PGBIN_INT4, nnames);
    pgbin_array_begin(&arr[4], PGBIN_INT8, nnames);
    pgbin_array_begin(&arr[5], PGBIN_INT8, nnames);
    for (size_t i = 0; i < nnames; i++) {
        const struct jobstore_cursor *cur = cursors != NULL && cursors[i].set ? &cursors[i] : NULL;
        pgbin_array_bytes(&arr[0], names[i], strlen(names[i]));
        pgbin_array_i32(&arr[1], limits[i]);
        pgbin_array_bool(&arr[2], steps_only != NULL && steps_only[i]);
        pgbin_array_i32(&arr[3], cur != NULL ? cur->priority : NO_CURSOR_PRIORITY);
        pgbin_array_i64(&arr[4], cur != NULL ? cur->run_at_us : 0);
        pgbin_array_i64(&arr[5], cur != NULL ? cur->id : 0);
    }
    pgbin_put_i32(total_be, total);
    values[2] = total_be;
    lengths[2] = 4;
    values[3] = (const char *)node;
    lengths[3] = 16;
    /* $1 $2 then $5..$8: the arrays in parameter order around total and node. */
    static const int param_of[6] = {0, 1, 4, 5, 6, 7};
    for (size_t k = 0; k < 6; k++) {
        failed |= arr[k].failed;
        values[param_of[k]] = arr[k].data;
        lengths[param_of[k]] = (int)arr[k].len;
    }
    op = calloc(1, sizeof(*op));
    if (!failed && op != NULL) {
        op->cb = cb;
        op->arg = arg;
        st = jobstore_submit1(c, STMT_CLAIM, 8, values, lengths, jobstore_claim_done, op);
    }
    if (st != PGCONN_OK)
        free(op);
    for (size_t k = 0; k < 6; k++)
        pgbin_buf_free(&arr[k]);
    return st;
}

/* --- complete, release, expire, reclaim: rows of jobstore_moved ---------------------------- */

static void jobstore_moved_done(void *arg, PGresult *res, const char *err)
{
    struct jobstore_op *op = arg;
    struct jobstore_moved *rows = NULL;
    struct jobstore_err e;
    int n;

    if (err != NULL) {
        jobstore_err_from(&e, res, err);
        op->cb.moved(op->arg, NULL, 0, &e);
        free(op);
        return;
    }
    n = PQntuples(res);
    if (n > 0 && (rows = calloc((size_t)n, sizeof(*rows))) == NULL) {
        static const struct jobstore_err nomem = {"out of memory reading results", "", true, false};
        op->cb.moved(op->arg, NULL, 0, &nomem);
        free(op);
        return;
    }
    for (int row = 0; row < n; row++) {
        struct jobstore_moved *m = &rows[row];
        const char *node;
        size_t len;

        if (!pgbin_i64(res, row, 0, &m->id) || !pgbin_i32(res, row, 1, &m->attempt) ||
            !jobstore_status_col(res, row, 2, &m->status) ||
            !pgbin_i64(res, row, 3, &m->run_at_ms)) {
            free(rows);
            op->cb.moved(op->arg, NULL, 0, &jobstore_bad_shape);
            free(op);
            return;
        }
        if (PQnfields(res) > 4 && pgbin_bytes(res, row, 4, &node, &len) && len == 16) {
            m->has_node = true;
            memcpy(m->node, node, 16);
        }
        if (PQnfields(res) > 5 && !pgbin_bytes(res, row, 5, &m->name, &m->name_len))
            m->name = NULL;
    }
    op->cb.moved(op->arg, rows, (size_t)n, NULL);
    free(rows);
    free(op);
}

/* Submit a statement answered with jobstore_moved rows. */
static enum pgconn_status jobstore_submit_moved(struct pgconn *c, enum stmt_id id, int nparams,
                                                const char *const *values, const int *lengths,
                                                jobstore_moved_cb cb, void *arg)
{
    struct jobstore_op *op;

    if (cb == NULL)
        return PGCONN_INVALID;
    if ((op = jobstore_op_new(arg)) != NULL)
        op->cb.moved = cb;
    return jobstore_submit_op(c, id, nparams, values, lengths, jobstore_moved_done, op);
}

enum pgconn_status jobstore_complete(struct pgconn *c, const uint8_t node[16],
                                     const struct jobstore_outcome *out, size_t n,
                                     jobstore_moved_cb cb, void *arg)
{
    struct pgbin_buf p[6] = {{0}};
    const char *values[7];
    int lengths[7];
    enum pgconn_status st = PGCONN_NOMEM;
    bool failed = false;

    if (n == 0)
        return PGCONN_INVALID;
    pgbin_array_begin(&p[0], PGBIN_INT8, n);
    pgbin_array_begin(&p[1], PGBIN_INT4, n);
    pgbin_array_begin(&p[2], PGBIN_BOOL, n);
    pgbin_array_begin(&p[3], PGBIN_BYTEA, n);
    pgbin_array_begin(&p[4], PGBIN_TEXT, n);
    pgbin_array_begin(&p[5], PGBIN_BOOL, n);
    for (size_t i = 0; i < n; i++) {
        const struct jobstore_outcome *o = &out[i];

        pgbin_array_i64(&p[0], o->id);
        pgbin_array_i32(&p[1], o->attempt);
        pgbin_array_bool(&p[2], o->ok);
        if (o->ok)
            pgbin_array_bytes(&p[3], o->result != NULL ? o->result : "", o->result_len);
        else
            pgbin_array_null(&p[3]);
        if (!o->ok && o->error != NULL)
            pgbin_array_bytes(&p[4], o->error, o->error_len);
        else
            pgbin_array_null(&p[4]);
        pgbin_array_bool(&p[5], o->retryable);
    }
    for (int k = 0; k < 6; k++) {
        failed |= p[k].failed || p[k].len > INT32_MAX;
        values[k] = p[k].data;
        lengths[k] = (int)p[k].len;
    }
    values[6] = (const char *)node;
    lengths[6] = 16;
    if (!failed)
        st = jobstore_submit_moved(c, STMT_COMPLETE, 7, values, lengths, cb, arg);
    for (int k = 0; k < 6; k++)
        pgbin_buf_free(&p[k]);
    return st;
}

enum pgconn_status jobstore_release(struct pgconn *c, const uint8_t node[16], const int64_t *ids,
                                    const int32_t *attempts, size_t n, bool consume,
                                    const char *error, jobstore_moved_cb cb, void *arg)
{
    struct pgbin_buf pi = {0}, pa = {0};
    const char *values[5];
    int lengths[5];
    char flag = consume ? 1 : 0;
    enum pgconn_status st = PGCONN_NOMEM;

    values[0] = (const char *)node;
    lengths[0] = 16;
    values[1] = values[2] = NULL; /* n == 0: every running job of the node */
    lengths[1] = lengths[2] = 0;
    if (n > 0) {
        pgbin_array_begin(&pi, PGBIN_INT8, n);
        pgbin_array_begin(&pa, PGBIN_INT4, n);
        for (size_t i = 0; i < n; i++) {
            pgbin_array_i64(&pi, ids[i]);
            pgbin_array_i32(&pa, attempts[i]);
        }
        values[1] = pi.data;
        lengths[1] = (int)pi.len;
        values[2] = pa.data;
        lengths[2] = (int)pa.len;
    }
    values[3] = &flag;
    lengths[3] = 1;
    values[4] = error;
    lengths[4] = error != NULL ? (int)strlen(error) : 0;
    if (!pi.failed && !pa.failed)
        st = jobstore_submit_moved(c, STMT_RELEASE, 5, values, lengths, cb, arg);
    pgbin_buf_free(&pi);
    pgbin_buf_free(&pa);
    return st;
}

enum pgconn_status jobstore_expire(struct pgconn *c, const uint8_t node[16], int64_t grace_ms,
                                   int32_t limit, jobstore_moved_cb cb, void *arg)
{
    char grace[8], lim[4];
    const char *values[3] = {(const char *)node, grace, lim};
    const int lengths[3] = {16, 8, 4};

    pgbin_put_i64(grace, grace_ms);
    pgbin_put_i32(lim, limit);
    return jobstore_submit_moved(c, STMT_EXPIRE, 3, values, lengths, cb, arg);
}

enum pgconn_status jobstore_reclaim(struct pgconn *c, int64_t lapse_ms, int32_t limit,
                                    const char *error, jobstore_moved_cb cb, void *arg)
{
    char lapse[8], lim[4];
    const char *values[3] = {lapse, lim, error};
    const int lengths[3] = {8, 4, error != NULL ? (int)strlen(error) : 0};

    pgbin_put_i64(lapse, lapse_ms);
    pgbin_put_i32(lim, limit);
    return jobstore_submit_moved(c, STMT_RECLAIM, 3, values, lengths, cb, arg);
}

/* --- nodes -------------------------------------------------------------------------------- */

static void jobstore_done_done(void *arg, PGresult *res, const char *err)
{
    struct jobstore_op *op = arg;
    struct jobstore_err e;

    if (err != NULL) {
        jobstore_err_from(&e, res, err);
        op->cb.done(op->arg, 0, &e);
    } else {
        const char *affected = PQcmdTuples(res);

        op->cb.done(op->arg,
                    PQntuples(res) > 0 ? (size_t)PQntuples(res) : strtoul(affected, NULL, 10),
                    NULL);
    }
    free(op);
}

/* Submit a statement answered with its row or affected-row count. */
static enum pgconn_status jobstore_submit_done(struct pgconn *c, enum stmt_id id, int nparams,
                                               const char *const *values, const int *lengths,
                                               jobstore_done_cb cb, void *arg)
{
    struct jobstore_op *op;

    if (cb == NULL)
        return PGCONN_INVALID;
    if ((op = jobstore_op_new(arg)) != NULL)
        op->cb.done = cb;
    return jobstore_submit_op(c, id, nparams, values, lengths, jobstore_done_done, op);
}

enum pgconn_status jobstore_node_beat(struct pgconn *c, const uint8_t node[16], const char *host,
                                      int32_t pid, jobstore_done_cb cb, void *arg)
{
    char pid_be[4];
    const char *values[3] = {(const char *)node, host, pid_be};
    const int lengths[3] = {16, (int)strlen(host), 4};

    pgbin_put_i32(pid_be, pid);
    return jobstore_submit_done(c, STMT_NODE_BEAT, 3, values, lengths, cb, arg);
}

enum pgconn_status jobstore_node_gone(struct pgconn *c, const uint8_t node[16], jobstore_done_cb cb,
                                      void *arg)
{
    const char *values[1] = {(const char *)node};
    const int lengths[1] = {16};

    return jobstore_submit_done(c, STMT_NODE_GONE, 1, values, lengths, cb, arg);
}

enum pgconn_status jobstore_node_prune(struct pgconn *c, int64_t lapse_ms, jobstore_done_cb cb,
                                       void *arg)
{
    char lapse[8];
    const char *values[1] = {lapse};
    const int lengths[1] = {8};

    pgbin_put_i64(lapse, lapse_ms);
    return jobstore_submit_done(c, STMT_NODE_PRUNE, 1, values, lengths, cb, arg);
}

enum pgconn_status jobstore_prune_jobs(struct pgconn *c, int64_t retention_s, int32_t limit,
                                       jobstore_done_cb cb, void *arg)
{
    char retention[8], lim[4];
    const char *values[2] = {retention, lim};
    const int lengths[2] = {8, 4};

    if (retention_s <= 0 || limit < 1)
        return PGCONN_INVALID;
    pgbin_put_i64(retention, retention_s);
    pgbin_put_i32(lim, limit);
    return jobstore_submit_done(c, STMT_PRUNE_JOBS, 2, values, lengths, cb, arg);
}

/* --- get, cancel, retry, list, next_run_at ------------------------------------------------ */

static void jobstore_get_done(void *arg, PGresult *res, const char *err)
{
    struct jobstore_op *op = arg;
    struct jobstore_job job;
    struct jobstore_err e;

    if (err != NULL) {
        jobstore_err_from(&e, res, err);
        op->cb.get(op->arg, NULL, &e);
    } else if (PQntuples(res) == 0) {
        op->cb.get(op->arg, NULL, NULL);
    } else if (!jobstore_read_job(res, 0, 0, &job)) {
        op->cb.get(op->arg, NULL, &jobstore_bad_shape);
    } else {
        op->cb.get(op->arg, &job, NULL);
    }
    free(op);
}

static void jobstore_change_done(void *arg, PGresult *res, const char *err)
{
    struct jobstore_op *op = arg;
    struct jobstore_changed what = {0};
    struct jobstore_job job;
    struct jobstore_err e;
    const char *node;
    size_t len;

    if (err != NULL) {
        jobstore_err_from(&e, res, err);
        op->cb.change(op->arg, NULL, &e);
    } else if (PQntuples(res) == 0) {
        what.change = JOBSTORE_NOT_FOUND;
        op->cb.change(op->arg, &what, NULL);
    } else if (!jobstore_status_col(res, 0, 0, &what.prev_status) ||
               !pgbin_i32(res, 0, 2, &what.prev_attempt)) {
        op->cb.change(op->arg, NULL, &jobstore_bad_shape);
    } else {
        if (pgbin_bytes(res, 0, 1, &node, &len) && len == 16) {
            what.prev_has_node = true;
            memcpy(what.prev_node, node, 16);
        }
        if (PQgetisnull(res, 0, STMTS_PREV_COLUMNS + JOBCOL_ID)) {
            what.change = JOBSTORE_CONFLICT;
            op->cb.change(op->arg, &what, NULL);
        } else if (!jobstore_read_job(res, 0, STMTS_PREV_COLUMNS, &job)) {
            op->cb.change(op->arg, NULL, &jobstore_bad_shape);
        } else {
            what.change = JOBSTORE_CHANGED;
            what.job = &job;
            op->cb.change(op->arg, &what, NULL);
        }
    }
    free(op);
}

static void jobstore_list_done(void *arg, PGresult *res, const char *err)
{
    struct jobstore_op *op = arg;
    struct jobstore_job *jobs = NULL;
    struct jobstore_err e;
    int n;
    int64_t next = 0;

    if (err != NULL) {
        jobstore_err_from(&e, res, err);
        op->cb.list(op->arg, NULL, 0, 0, &e);
        free(op);
        return;
    }
    n = PQntuples(res);
    if (n > op->limit)
        n = op->limit; /* the extra row only says that there is a next page */
    if (n > 0 && (jobs = calloc((size_t)n, sizeof(*jobs))) == NULL) {
        static const struct jobstore_err nomem = {"out of memory reading jobs", "", true, false};
        op->cb.list(op->arg, NULL, 0, 0, &nomem);
        free(op);
        return;
    }
    for (int row = 0; row < n; row++) {
        if (!jobstore_read_job(res, row, 0, &jobs[row])) {
            free(jobs);
            op->cb.list(op->arg, NULL, 0, 0, &jobstore_bad_shape);
            free(op);
            return;
        }
    }
    if (PQntuples(res) > op->limit && n > 0)
        next = jobs[n - 1].id;
    op->cb.list(op->arg, jobs, (size_t)n, next, NULL);
    free(jobs);
    free(op);
}

static void jobstore_next_done(void *arg, PGresult *res, const char *err)
{
    struct jobstore_op *op = arg;
    struct jobstore_err e;
    int64_t at = 0;

    if (err != NULL) {
        jobstore_err_from(&e, res, err);
        op->cb.next(op->arg, false, 0, &e);
    } else if (PQntuples(res) != 1) {
        op->cb.next(op->arg, false, 0, &jobstore_bad_shape);
    } else {
        bool has = pgbin_i64(res, 0, 0, &at);

        op->cb.next(op->arg, has, has ? at : 0, NULL);
    }
    free(op);
}

/* One int8 parameter: a job id. */
static enum pgconn_status jobstore_by_id(struct pgconn *c, enum stmt_id id, int64_t job,
                                         pgconn_cb done, struct jobstore_op *op)
{
    char be[8];
    const char *values[1] = {be};
    const int lengths[1] = {8};

    pgbin_put_i64(be, job);
    return jobstore_submit_op(c, id, 1, values, lengths, done, op);
}

enum pgconn_status jobstore_get(struct pgconn *c, int64_t id, jobstore_get_cb cb, void *arg)
{
    struct jobstore_op *op;

    if (cb == NULL)
        return PGCONN_INVALID;
    if ((op = jobstore_op_new(arg)) != NULL)
        op->cb.get = cb;
    return jobstore_by_id(c, STMT_GET, id, jobstore_get_done, op);
}

enum pgconn_status jobstore_cancel(struct pgconn *c, int64_t id, jobstore_change_cb cb, void *arg)
{
    struct jobstore_op *op;

    if (cb == NULL)
        return PGCONN_INVALID;
    if ((op = jobstore_op_new(arg)) != NULL)
        op->cb.change = cb;
    return jobstore_by_id(c, STMT_CANCEL, id, jobstore_change_done, op);
}

enum pgconn_status jobstore_retry(struct pgconn *c, int64_t id, jobstore_change_cb cb, void *arg)
{
    struct jobstore_op *op;

    if (cb == NULL)
        return PGCONN_INVALID;
    if ((op = jobstore_op_new(arg)) != NULL)
        op->cb.change = cb;
    return jobstore_by_id(c, STMT_RETRY, id, jobstore_change_done, op);
}

enum pgconn_status jobstore_list(struct pgconn *c, const struct jobstore_filter *f,
                                 jobstore_list_cb cb, void *arg)
{
    const char *status_name = f->status >= 0 ? jobstore_status_name(f->status) : NULL;
    char before_be[8], limit_be[4], parent_be[8];
    const char *values[5];
    int lengths[5];
    struct jobstore_op *op;

    if (cb == NULL || f->limit < 1 || f->limit > 1000 || (f->status >= 0 && status_name == NULL))
        return PGCONN_INVALID;
    pgbin_put_i64(before_be, f->before);
    pgbin_put_i32(limit_be, f->limit + 1);
    pgbin_put_i64(parent_be, f->parent);
    values[0] = status_name;
    lengths[0] = status_name != NULL ? (int)strlen(status_name) : 0;
    values[1] = f->name;
    lengths[1] = f->name != NULL ? (int)strlen(f->name) : 0;
    values[2] = f->before > 0 ? before_be : NULL;
    lengths[2] = 8;
    values[3] = limit_be;
    lengths[3] = 4;
    values[4] = f->parent > 0 ? parent_be : NULL;
    lengths[4] = 8;
    if ((op = jobstore_op_new(arg)) != NULL) {
        op->cb.list = cb;
        op->limit = f->limit;
    }
    return jobstore_submit_op(c, f->parent > 0 ? STMT_LIST_STEPS : STMT_LIST, 5, values, lengths,
                              jobstore_list_done, op);
}

enum pgconn_status jobstore_next_run_at(struct pgconn *c, const char *const *names, size_t nnames,
                                        int64_t after_ms, jobstore_next_cb cb, void *arg)
{
    struct pgbin_buf pn = {0};
    char after[8];
    const char *values[2];
    int lengths[2];
    struct jobstore_op *op;
    enum pgconn_status st;

    if (cb == NULL)
        return PGCONN_INVALID;
    pgbin_array_begin(&pn, PGBIN_TEXT, nnames);
    for (size_t i = 0; i < nnames; i++)
        pgbin_array_bytes(&pn, names[i], strlen(names[i]));
    if (pn.failed) {
        pgbin_buf_free(&pn);
        return PGCONN_NOMEM;
    }
    values[0] = pn.data;
    lengths[0] = (int)pn.len;
    pgbin_put_i64(after, after_ms);
    values[1] = after_ms > 0 ? after : NULL;
    lengths[1] = 8;
    if ((op = jobstore_op_new(arg)) != NULL)
        op->cb.next = cb;
    st = jobstore_submit_op(c, STMT_NEXT_RUN_AT, 2, values, lengths, jobstore_next_done, op);
    pgbin_buf_free(&pn);
    return st;
}

static void jobstore_snapshot_done(void *arg, PGresult *res, const char *err)
{
    struct jobstore_op *op = arg;
    struct jobstore_err e;
    struct jobstore_snapshot old = {0};

    if (err != NULL) {
        jobstore_err_from(&e, res, err);
        op->cb.snapshot(op->arg, NULL, &e);
    } else if (PQntuples(res) == 0) {
        op->cb.snapshot(op->arg, NULL, NULL);
    } else if (!pgbin_i64(res, 0, 1, &old.age_s) || (old.who = jobstore_text(res, 0, 2)) == NULL ||
               (old.state = jobstore_text(res, 0, 3)) == NULL) {
        op->cb.snapshot(op->arg, NULL, &jobstore_bad_shape);
    } else {
        if (!pgbin_i32(res, 0, 0, &old.pid))
            old.pid = 0;
        op->cb.snapshot(op->arg, &old, NULL);
    }
    free(op);
}

enum pgconn_status jobstore_oldest_snapshot(struct pgconn *c, int64_t older_than_s,
                                            jobstore_snapshot_cb cb, void *arg)
{
    char older[8];
    const char *values[1] = {older};
    const int lengths[1] = {8};
    struct jobstore_op *op;

    if (cb == NULL || older_than_s < 0)
        return PGCONN_INVALID;
    pgbin_put_i64(older, older_than_s);
    if ((op = jobstore_op_new(arg)) != NULL)
        op->cb.snapshot = cb;
    return jobstore_submit_op(c, STMT_OLDEST_SNAPSHOT, 1, values, lengths, jobstore_snapshot_done,
                              op);
}

/* --- finals (AWAIT lookups) --------------------------------------------------------------- */

struct jobstore_finals_op {
    jobstore_finals_cb cb;
    void *arg;
};

/* One row of finals. */
static bool jobstore_final_row(const PGresult *res, int row, void *out)
{
    struct jobstore_final *f = out;

    if (!pgbin_i64(res, row, 0, &f->id) || !jobstore_status_col(res, row, 1, &f->status) ||
        !pgbin_i32(res, row, 2, &f->attempt))
        return false;
    f->has_result = pgbin_bytes(res, row, 3, &f->result, &f->result_len);
    f->error = jobstore_text(res, row, 4);
    return true;
}

static void jobstore_finals_done(void *arg, PGresult *res, const char *err)
{
    static const struct jobstore_err nomem = {"out of memory reading awaited jobs", "", true,
                                              false};
    struct jobstore_finals_op *op = arg;
    struct jobstore_err e;
    void *rows;
    size_t n;
    const struct jobstore_err *fail = jobstore_rows(res, err, &e, sizeof(struct jobstore_final),
                                                    jobstore_final_row, &nomem, &rows, &n);

    op->cb(op->arg, fail == NULL ? rows : NULL, n, fail);
    free(rows);
    free(op);
}

enum pgconn_status jobstore_finals(struct pgconn *c, const int64_t *ids, size_t n,
                                   jobstore_finals_cb cb, void *arg)
{
    struct pgbin_buf p = {0};
    struct jobstore_finals_op *op;
    enum pgconn_status st = PGCONN_NOMEM;

    if (cb == NULL || n == 0 || n > JOBSTORE_MAX_FINALS)
        return PGCONN_INVALID;
    pgbin_array_begin(&p, PGBIN_INT8, n);
    for (size_t i = 0; i < n; i++)
        pgbin_array_i64(&p, ids[i]);
    const char *values[1] = {p.data};
    const int lengths[1] = {(int)p.len};
    op = calloc(1, sizeof(*op));
    if (!p.failed && op != NULL) {
        op->cb = cb;
        op->arg = arg;
        st = jobstore_submit1(c, STMT_FINALS, 1, values, lengths, jobstore_finals_done, op);
    }
    if (st != PGCONN_OK)
        free(op);
    pgbin_buf_free(&p);
    return st;
}
