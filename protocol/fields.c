/*
 * The §5 tables of docs/protocol.md as data (rows in canonical order), and the value checks
 * that the decoder and the encoder share. Change a rule here and both sides follow.
 */
#include "fields.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "reseolio/msg.h"
#include "reseolio/proto.h"
#include "utf8.h"

/* Enums are read and written as int (FIELD_ENUM); make sure that is what they are. */
_Static_assert(sizeof(enum rs_status) == sizeof(int), "enum rs_status is not int-sized");
_Static_assert(sizeof(enum rs_backoff) == sizeof(int), "enum rs_backoff is not int-sized");
_Static_assert(sizeof(enum rs_abandon_reason) == sizeof(int), "enum is not int-sized");

/*
 * Row builders (a table row is {BUILDER(...)}): the wire key is the member's name in every
 * message struct, and `has` is where the struct keeps its RS_HAS_* bits.
 */
#define ROW(T, m, k, p)        .key = #m, .kind = (k), .presence = (p), .off = offsetof(T, m)
#define HAS(T, hb)             .aux = offsetof(T, has), .bit = (hb)
#define UINT_REQ(T, m, lo, hi) ROW(T, m, FIELD_UINT, FIELD_REQUIRED), .min = (lo), .max = (hi)
#define UINT_OPT(T, m, hb, lo, hi, d)                                                              \
    ROW(T, m, FIELD_UINT, FIELD_BIT), HAS(T, hb), .min = (lo), .max = (hi), .def.u = (d)
#define INT_REQ(T, m) ROW(T, m, FIELD_INT, FIELD_REQUIRED), .imin = INT64_MIN, .imax = INT64_MAX
#define INT_OPT(T, m, hb, lo, hi)                                                                  \
    ROW(T, m, FIELD_INT, FIELD_BIT), HAS(T, hb), .imin = (lo), .imax = (hi)
#define FLOAT_OPT(T, m, hb, d) ROW(T, m, FIELD_FLOAT, FIELD_BIT), HAS(T, hb), .def.f = (d)
#define BOOL_REQ(T, m)         ROW(T, m, FIELD_BOOL, FIELD_REQUIRED)
#define BOOL_OPT(T, m, hb, d)  ROW(T, m, FIELD_BOOL, FIELD_BIT), HAS(T, hb), .def.b = (d)
#define STR_REQ(T, m, lo, hi)  ROW(T, m, FIELD_STR, FIELD_REQUIRED), .min = (lo), .max = (hi)
#define STR_OPT(T, m, lo, hi)  ROW(T, m, FIELD_STR, FIELD_PTR), .min = (lo), .max = (hi)
#define BIN_REQ(T, m)          ROW(T, m, FIELD_BIN, FIELD_REQUIRED)
#define BIN_OPT(T, m)          ROW(T, m, FIELD_BIN, FIELD_PTR)
#define ENUM_REQ(T, m, e, ok)  ROW(T, m, FIELD_ENUM, FIELD_REQUIRED), .names = &(e), .allowed = (ok)
#define ENUM_OPT(T, m, flag, e, ok)                                                                \
    ROW(T, m, FIELD_ENUM, FIELD_FLAG), .aux = offsetof(T, flag), .names = &(e), .allowed = (ok)
#define LIST_REQ(T, m, k, n, lo, hi)                                                               \
    ROW(T, m, k, FIELD_REQUIRED), .aux = offsetof(T, n), .min = (lo), .max = (hi)

#define BIT(v)      (1u << (v))
#define UP_TO(last) (BIT((last) + 1) - 1u) /* every value of an enum that ends at last */
#define ALL_STATUS  UP_TO(RS_STATUS_CANCELLED)
#define ALL_BACKOFF UP_TO(RS_BACKOFF_LINEAR)
#define ALL_REASONS UP_TO(RS_ABANDON_SHUTDOWN)
#define COUNT(rows) ((unsigned)(sizeof(rows) / sizeof((rows)[0])))

/* Any length a MessagePack str can have. */
#define ANY_LEN UINT32_MAX

/* The rule each function name of a REGISTER is held to (the row itself is never sent). */
static const struct field name_rule = {
    .key = "names", .kind = FIELD_STR, .min = 1, .max = RS_MAX_NAME};

static const struct field hello_rows[] = {
    {UINT_REQ(struct rs_hello, version, 0, UINT64_MAX)},
    {STR_REQ(struct rs_hello, client, 1, RS_MAX_CLIENT)},
    {UINT_OPT(struct rs_hello, pid, RS_HAS_PID, 0, UINT64_MAX, 0)},
    {STR_OPT(struct rs_hello, storage, 0, RS_MAX_STORAGE)},
};

static const struct field welcome_rows[] = {
    {UINT_REQ(struct rs_welcome, version, 0, UINT64_MAX)},
    {STR_REQ(struct rs_welcome, node, 0, ANY_LEN)},
    {STR_REQ(struct rs_welcome, server, 0, ANY_LEN)},
    {UINT_REQ(struct rs_welcome, max_frame, RS_MAX_FRAME_MIN, RS_MAX_FRAME_HARD)},
    {STR_REQ(struct rs_welcome, storage, 0, RS_MAX_STORAGE)},
};

static const struct field error_rows[] = {
    {STR_REQ(struct rs_error_msg, code, 0, ANY_LEN)},
    {STR_REQ(struct rs_error_msg, message, 0, ANY_LEN)},
    {BOOL_OPT(struct rs_error_msg, retryable, RS_HAS_RETRYABLE, false)},
};

static const struct field enqueue_rows[] = {
    {STR_REQ(struct rs_enqueue, name, 1, RS_MAX_NAME)},
    {BIN_OPT(struct rs_enqueue, args)},
    {STR_OPT(struct rs_enqueue, key, 1, RS_MAX_KEY)},
    {UINT_OPT(struct rs_enqueue, max_attempts, RS_HAS_MAX_ATTEMPTS, 1, RS_MAX_ATTEMPTS_LIMIT, 3)},
    {ENUM_OPT(struct rs_enqueue, backoff, has_backoff, codes_backoff, ALL_BACKOFF)},
    {UINT_OPT(struct rs_enqueue, initial_delay_ms, RS_HAS_INITIAL_DELAY, 0, RS_MAX_DELAY_LIMIT_MS,
              1000)},
    {UINT_OPT(struct rs_enqueue, max_delay_ms, RS_HAS_MAX_DELAY, 0, RS_MAX_DELAY_LIMIT_MS, 60000)},
    {FLOAT_OPT(struct rs_enqueue, jitter, RS_HAS_JITTER, 0.1)},
    {UINT_OPT(struct rs_enqueue, timeout_ms, RS_HAS_TIMEOUT, 1, RS_MAX_TIMEOUT_MS, 30000)},
    {INT_OPT(struct rs_enqueue, priority, RS_HAS_PRIORITY, INT16_MIN, INT16_MAX)},
    {INT_OPT(struct rs_enqueue, run_at, RS_HAS_RUN_AT, INT64_MIN, INT64_MAX)},
    {UINT_OPT(struct rs_enqueue, delay_ms, RS_HAS_DELAY, 0, RS_MAX_DELAY_LIMIT_MS, 0)},
    {UINT_OPT(struct rs_enqueue, parent, RS_HAS_PARENT, 1, INT64_MAX, 0)},
    {UINT_OPT(struct rs_enqueue, step, RS_HAS_STEP, 0, RS_MAX_STEP, 0)},
};

static const struct field enqueued_rows[] = {
    {UINT_REQ(struct rs_enqueued, job, 0, UINT64_MAX)},
    {BOOL_REQ(struct rs_enqueued, deduplicated)},
};

static const struct field register_rows[] = {
    {LIST_REQ(struct rs_register, names, FIELD_NAMES, nnames, 1, RS_MAX_REGISTER),
     .elem = &name_rule},
    {UINT_REQ(struct rs_register, concurrency, 0, RS_MAX_CONCURRENCY)},
};

static const struct field dispatch_rows[] = {
    {UINT_REQ(struct rs_dispatch, job, 0, UINT64_MAX)},
    {STR_REQ(struct rs_dispatch, name, 1, RS_MAX_NAME)},
    {BIN_REQ(struct rs_dispatch, args)},
    {UINT_REQ(struct rs_dispatch, attempt, 0, UINT64_MAX)},
    {UINT_REQ(struct rs_dispatch, max_attempts, 0, UINT64_MAX)},
    {INT_REQ(struct rs_dispatch, deadline)},
};

/* ACK: a release carries no outcome, so nothing of one may come with it. */
static const char *ack_check(const void *base)
{
    const struct rs_ack *a = base;
    if (!(a->has & RS_HAS_RELEASE) || !a->release)
        return NULL;
    if (a->ok)
        return "release with ok true";
    if (a->result.ptr != NULL || a->error.ptr != NULL || (a->has & RS_HAS_RETRYABLE))
        return "release with result, error or retryable";
    return NULL;
}

static const struct field ack_rows[] = {
    {UINT_REQ(struct rs_ack, job, 0, UINT64_MAX)},
    {UINT_REQ(struct rs_ack, attempt, 0, UINT64_MAX)},
    {BOOL_REQ(struct rs_ack, ok)},
    {BIN_OPT(struct rs_ack, result)},
    {STR_OPT(struct rs_ack, error, 0, RS_MAX_ERROR)},
    {BOOL_OPT(struct rs_ack, retryable, RS_HAS_RETRYABLE, true)},
    {BOOL_OPT(struct rs_ack, release, RS_HAS_RELEASE, false)},
};

static const struct field abandon_rows[] = {
    {UINT_REQ(struct rs_abandon, job, 0, UINT64_MAX)},
    {UINT_REQ(struct rs_abandon, attempt, 0, UINT64_MAX)},
    {ENUM_REQ(struct rs_abandon, reason, codes_abandon, ALL_REASONS)},
};

static const struct field await_rows[] = {
    {UINT_REQ(struct rs_job_ref, job, 0, UINT64_MAX)},
    {UINT_OPT(struct rs_job_ref, timeout_ms, RS_HAS_AWAIT_TIMEOUT, 0, UINT64_MAX, 0)},
    {UINT_OPT(struct rs_job_ref, waiter, RS_HAS_WAITER, 1, INT64_MAX, 0)},
    {UINT_OPT(struct rs_job_ref, waiter_attempt, RS_HAS_WAITER_ATTEMPT, 1, INT32_MAX, 0)},
};

/* GET, CANCEL and RETRY: the first row of AWAIT's table. */
#define REF_ROWS 1

static const struct field completed_rows[] = {
    {UINT_REQ(struct rs_completed, job, 0, UINT64_MAX)},
    {ENUM_REQ(struct rs_completed, status, codes_status,
              BIT(RS_STATUS_SUCCESS) | BIT(RS_STATUS_DEAD) | BIT(RS_STATUS_CANCELLED))},
    {UINT_REQ(struct rs_completed, attempt, 0, UINT64_MAX)},
    {BIN_OPT(struct rs_completed, result)},
    {STR_OPT(struct rs_completed, error, 0, RS_MAX_ERROR)},
};

static const struct field job_rows[] = {
    {UINT_REQ(struct rs_job, id, 0, UINT64_MAX)},
    {STR_REQ(struct rs_job, name, 1, RS_MAX_NAME)},
    {ENUM_REQ(struct rs_job, status, codes_status, ALL_STATUS)},
    {UINT_REQ(struct rs_job, attempt, 0, UINT64_MAX)},
    {UINT_REQ(struct rs_job, max_attempts, 0, UINT64_MAX)},
    {BIN_REQ(struct rs_job, args)},
    {BIN_OPT(struct rs_job, result)},
    {STR_OPT(struct rs_job, error, 0, RS_MAX_ERROR)},
    {STR_OPT(struct rs_job, key, 1, RS_MAX_KEY)},
    {INT_REQ(struct rs_job, priority)},
    {INT_REQ(struct rs_job, created_at)},
    {INT_REQ(struct rs_job, run_at)},
    {INT_OPT(struct rs_job, started_at, RS_HAS_STARTED_AT, INT64_MIN, INT64_MAX)},
    {INT_OPT(struct rs_job, finished_at, RS_HAS_FINISHED_AT, INT64_MIN, INT64_MAX)},
    {UINT_OPT(struct rs_job, parent, RS_HAS_PARENT, 1, INT64_MAX, 0)},
    {UINT_OPT(struct rs_job, step, RS_HAS_STEP, 0, RS_MAX_STEP, 0)},
};

static const struct field list_rows[] = {
    {ENUM_OPT(struct rs_list, status, has_status, codes_status, ALL_STATUS)},
    {STR_OPT(struct rs_list, name, 1, RS_MAX_NAME)},
    {UINT_OPT(struct rs_list, limit, RS_HAS_LIMIT, 1, RS_MAX_LIST, 100)},
    {UINT_OPT(struct rs_list, after, RS_HAS_AFTER, 0, UINT64_MAX, 0)},
    {UINT_OPT(struct rs_list, parent, RS_HAS_PARENT, 1, INT64_MAX, 0)},
};

/* A job inside JOBS: JOB's rows, named by the decoder with its index. */
static const struct field_table job_in_jobs = {"JOBS.jobs[]", job_rows, COUNT(job_rows), NULL};

static const struct field jobs_rows[] = {
    {LIST_REQ(struct rs_jobs, jobs, FIELD_JOBS, njobs, 0, RS_MAX_LIST), .sub = &job_in_jobs,
     .size = sizeof(struct rs_job)},
    {UINT_OPT(struct rs_jobs, next, RS_HAS_NEXT, 0, UINT64_MAX, 0)},
};

static const struct field schedule_put_rows[] = {
    {STR_REQ(struct rs_schedule, name, 1, RS_MAX_SCHEDULE_NAME)},
    {STR_REQ(struct rs_schedule, function, 1, RS_MAX_NAME)},
    {STR_REQ(struct rs_schedule, cron, 1, RS_MAX_CRON)},
    {STR_OPT(struct rs_schedule, zone, 1, RS_MAX_ZONE)},
    {BIN_OPT(struct rs_schedule, args)},
    {UINT_OPT(struct rs_schedule, max_attempts, RS_HAS_MAX_ATTEMPTS, 1, RS_MAX_ATTEMPTS_LIMIT, 3)},
    {ENUM_OPT(struct rs_schedule, backoff, has_backoff, codes_backoff, ALL_BACKOFF)},
    {UINT_OPT(struct rs_schedule, initial_delay_ms, RS_HAS_INITIAL_DELAY, 0, RS_MAX_DELAY_LIMIT_MS,
              1000)},
    {UINT_OPT(struct rs_schedule, max_delay_ms, RS_HAS_MAX_DELAY, 0, RS_MAX_DELAY_LIMIT_MS, 60000)},
    {FLOAT_OPT(struct rs_schedule, jitter, RS_HAS_JITTER, 0.1)},
    {UINT_OPT(struct rs_schedule, timeout_ms, RS_HAS_TIMEOUT, 1, RS_MAX_TIMEOUT_MS, 30000)},
    {INT_OPT(struct rs_schedule, priority, RS_HAS_PRIORITY, INT16_MIN, INT16_MAX)},
    {BOOL_OPT(struct rs_schedule, paused, RS_HAS_PAUSED, false)},
};

/* SCHEDULE: everything the daemon knows of a schedule. */
static const struct field schedule_rows[] = {
    {STR_REQ(struct rs_schedule, name, 1, RS_MAX_SCHEDULE_NAME)},
    {STR_REQ(struct rs_schedule, function, 1, RS_MAX_NAME)},
    {STR_REQ(struct rs_schedule, cron, 1, RS_MAX_CRON)},
    {STR_REQ(struct rs_schedule, zone, 1, RS_MAX_ZONE)},
    {BIN_REQ(struct rs_schedule, args)},
    {UINT_REQ(struct rs_schedule, max_attempts, 1, RS_MAX_ATTEMPTS_LIMIT)},
    {ENUM_REQ(struct rs_schedule, backoff, codes_backoff, ALL_BACKOFF)},
    {UINT_REQ(struct rs_schedule, initial_delay_ms, 0, RS_MAX_DELAY_LIMIT_MS)},
    {UINT_REQ(struct rs_schedule, max_delay_ms, 0, RS_MAX_DELAY_LIMIT_MS)},
    {ROW(struct rs_schedule, jitter, FIELD_FLOAT, FIELD_REQUIRED)},
    {UINT_REQ(struct rs_schedule, timeout_ms, 1, RS_MAX_TIMEOUT_MS)},
    {ROW(struct rs_schedule, priority, FIELD_INT, FIELD_REQUIRED), .imin = INT16_MIN,
     .imax = INT16_MAX},
    {BOOL_REQ(struct rs_schedule, paused)},
    {INT_OPT(struct rs_schedule, next_run_at, RS_HAS_NEXT_RUN_AT, INT64_MIN, INT64_MAX)},
    {INT_OPT(struct rs_schedule, last_run_at, RS_HAS_LAST_RUN_AT, INT64_MIN, INT64_MAX)},
    {INT_REQ(struct rs_schedule, created_at)},
};

/* SCHEDULE_GET, SCHEDULE_PAUSE, SCHEDULE_RESUME, SCHEDULE_DELETE. */
static const struct field schedule_ref_rows[] = {
    {STR_REQ(struct rs_schedule_ref, name, 1, RS_MAX_SCHEDULE_NAME)},
};

static const struct field schedule_list_rows[] = {
    {UINT_OPT(struct rs_schedule_list, limit, RS_HAS_SCHEDULE_LIMIT, 1, RS_MAX_LIST, 100)},
    {STR_OPT(struct rs_schedule_list, after, 1, RS_MAX_SCHEDULE_NAME)},
};

/* A schedule inside SCHEDULES. */
static const struct field_table schedule_in_schedules = {"SCHEDULES.schedules[]", schedule_rows,
                                                         COUNT(schedule_rows), NULL};

static const struct field schedules_rows[] = {
    {LIST_REQ(struct rs_schedules, schedules, FIELD_JOBS, nschedules, 0, RS_MAX_LIST),
     .sub = &schedule_in_schedules, .size = sizeof(struct rs_schedule)},
    {STR_OPT(struct rs_schedules, next, 1, RS_MAX_SCHEDULE_NAME)},
};

/* STATISTICS: a function's counters, a queue, a node. */
static const struct field stats_fn_rows[] = {
    {STR_REQ(struct rs_statistics_fn, name, 1, RS_MAX_NAME)},
    {UINT_REQ(struct rs_statistics_fn, enqueued, 0, UINT64_MAX)},
    {UINT_REQ(struct rs_statistics_fn, deduplicated, 0, UINT64_MAX)},
    {UINT_REQ(struct rs_statistics_fn, started, 0, UINT64_MAX)},
    {UINT_REQ(struct rs_statistics_fn, succeeded, 0, UINT64_MAX)},
    {UINT_REQ(struct rs_statistics_fn, failed, 0, UINT64_MAX)},
    {UINT_REQ(struct rs_statistics_fn, dead, 0, UINT64_MAX)},
    {UINT_REQ(struct rs_statistics_fn, timed_out, 0, UINT64_MAX)},
    {UINT_REQ(struct rs_statistics_fn, reclaimed, 0, UINT64_MAX)},
    {UINT_REQ(struct rs_statistics_fn, duration_count, 0, UINT64_MAX)},
    {UINT_REQ(struct rs_statistics_fn, duration_sum_us, 0, UINT64_MAX)},
};
static const struct field_table stats_fn_table = {"STATISTICS.functions[]", stats_fn_rows,
                                                  COUNT(stats_fn_rows), NULL};

static const struct field stats_queue_rows[] = {
    {STR_REQ(struct rs_statistics_queue, name, 1, RS_MAX_NAME)},
    {UINT_REQ(struct rs_statistics_queue, pending, 0, UINT64_MAX)},
    {UINT_REQ(struct rs_statistics_queue, running, 0, UINT64_MAX)},
};
static const struct field_table stats_queue_table = {"STATISTICS.queues[]", stats_queue_rows,
                                                     COUNT(stats_queue_rows), NULL};

static const struct field stats_node_rows[] = {
    {STR_REQ(struct rs_statistics_node, id, 1, 64)},
    {STR_REQ(struct rs_statistics_node, host, 0, 255)},
    {UINT_REQ(struct rs_statistics_node, pid, 0, UINT64_MAX)},
    {INT_REQ(struct rs_statistics_node, heartbeat_age_ms)},
    {INT_REQ(struct rs_statistics_node, started_at)},
};
static const struct field_table stats_node_table = {"STATISTICS.nodes[]", stats_node_rows,
                                                    COUNT(stats_node_rows), NULL};

static const struct field statistics_rows[] = {
    {STR_REQ(struct rs_statistics, server, 0, ANY_LEN)},
    {STR_REQ(struct rs_statistics, node, 0, ANY_LEN)},
    {UINT_REQ(struct rs_statistics, pid, 0, UINT64_MAX)},
    {INT_REQ(struct rs_statistics, started_at)},
    {UINT_REQ(struct rs_statistics, uptime_ms, 0, UINT64_MAX)},
    {UINT_REQ(struct rs_statistics, connections, 0, UINT64_MAX)},
    {UINT_REQ(struct rs_statistics, workers, 0, UINT64_MAX)},
    {UINT_REQ(struct rs_statistics, running, 0, UINT64_MAX)},
    {STR_REQ(struct rs_statistics, storage, 0, RS_MAX_STORAGE)},
    {STR_REQ(struct rs_statistics, schema, 1, RS_MAX_SCHEMA)},
    {BOOL_REQ(struct rs_statistics, storage_up)},
    {INT_OPT(struct rs_statistics, counted_at, RS_HAS_COUNTED_AT, INT64_MIN, INT64_MAX)},
    {STR_OPT(struct rs_statistics, count_error, 0, RS_MAX_ERROR)},
    {BOOL_OPT(struct rs_statistics, truncated, RS_HAS_TRUNCATED, false)},
    {LIST_REQ(struct rs_statistics, functions, FIELD_JOBS, nfunctions, 0, RS_MAX_STATS_FUNCTIONS),
     .sub = &stats_fn_table, .size = sizeof(struct rs_statistics_fn)},
    {LIST_REQ(struct rs_statistics, queues, FIELD_JOBS, nqueues, 0, RS_MAX_STATS_QUEUES),
     .sub = &stats_queue_table, .size = sizeof(struct rs_statistics_queue)},
    {LIST_REQ(struct rs_statistics, nodes, FIELD_JOBS, nnodes, 0, RS_MAX_STATS_NODES),
     .sub = &stats_node_table, .size = sizeof(struct rs_statistics_node)},
};

/* ENQUEUE: an absolute and a relative start together are ambiguous. */
static const char *enqueue_check(const void *base)
{
    const struct rs_enqueue *e = base;
    if ((e->has & RS_HAS_RUN_AT) && (e->has & RS_HAS_DELAY))
        return "run_at and delay_ms together";
    if (((e->has & RS_HAS_PARENT) != 0) != ((e->has & RS_HAS_STEP) != 0))
        return "parent and step go together";
    if (e->key.ptr != NULL && e->key.len >= sizeof(RS_STEP_KEY_PREFIX) - 1 &&
        memcmp(e->key.ptr, RS_STEP_KEY_PREFIX, sizeof(RS_STEP_KEY_PREFIX) - 1) == 0)
        return "key: the prefix \"" RS_STEP_KEY_PREFIX "\" is reserved for steps";
    return NULL;
}

/* AWAIT: a waiter is a job and one of its attempts. */
static const char *await_check(const void *base)
{
    const struct rs_job_ref *r = base;
    if (((r->has & RS_HAS_WAITER) != 0) != ((r->has & RS_HAS_WAITER_ATTEMPT) != 0))
        return "waiter and waiter_attempt go together";
    return NULL;
}

#define TABLE(name, rows, n, check) [RS_MSG_##name] = {#name, rows, n, check}

/* Indexed by message type. */
static const struct field_table tables[] = {
    TABLE(HELLO, hello_rows, COUNT(hello_rows), NULL),
    TABLE(WELCOME, welcome_rows, COUNT(welcome_rows), NULL),
    TABLE(ERROR, error_rows, COUNT(error_rows), NULL),
    TABLE(PING, NULL, 0, NULL),
    TABLE(PONG, NULL, 0, NULL),
    TABLE(OK, NULL, 0, NULL),
    TABLE(ENQUEUE, enqueue_rows, COUNT(enqueue_rows), enqueue_check),
    TABLE(ENQUEUED, enqueued_rows, COUNT(enqueued_rows), NULL),
    TABLE(REGISTER, register_rows, COUNT(register_rows), NULL),
    TABLE(DISPATCH, dispatch_rows, COUNT(dispatch_rows), NULL),
    TABLE(ACK, ack_rows, COUNT(ack_rows), ack_check),
    TABLE(ABANDON, abandon_rows, COUNT(abandon_rows), NULL),
    TABLE(AWAIT, await_rows, COUNT(await_rows), await_check),
    TABLE(COMPLETED, completed_rows, COUNT(completed_rows), NULL),
    TABLE(GET, await_rows, REF_ROWS, NULL),
    TABLE(JOB, job_rows, COUNT(job_rows), NULL),
    TABLE(CANCEL, await_rows, REF_ROWS, NULL),
    TABLE(RETRY, await_rows, REF_ROWS, NULL),
    TABLE(LIST, list_rows, COUNT(list_rows), NULL),
    TABLE(JOBS, jobs_rows, COUNT(jobs_rows), NULL),
    TABLE(STATS, NULL, 0, NULL),
    TABLE(STATISTICS, statistics_rows, COUNT(statistics_rows), NULL),
    TABLE(SCHEDULE_PUT, schedule_put_rows, COUNT(schedule_put_rows), NULL),
    TABLE(SCHEDULE, schedule_rows, COUNT(schedule_rows), NULL),
    TABLE(SCHEDULE_GET, schedule_ref_rows, COUNT(schedule_ref_rows), NULL),
    TABLE(SCHEDULE_PAUSE, schedule_ref_rows, COUNT(schedule_ref_rows), NULL),
    TABLE(SCHEDULE_RESUME, schedule_ref_rows, COUNT(schedule_ref_rows), NULL),
    TABLE(SCHEDULE_DELETE, schedule_ref_rows, COUNT(schedule_ref_rows), NULL),
    TABLE(SCHEDULE_LIST, schedule_list_rows, COUNT(schedule_list_rows), NULL),
    TABLE(SCHEDULES, schedules_rows, COUNT(schedules_rows), NULL),
};

/* The table of a message type, or NULL. */
const struct field_table *field_table_of(int type)
{
    if (type < 0 || (unsigned)type >= COUNT(tables) || tables[type].name == NULL)
        return NULL;
    return &tables[type];
}

/* Whether f is present in the struct at base. */
bool field_present(const struct field *f, const void *base)
{
    switch (f->presence) {
    case FIELD_BIT:
        return (*(const uint32_t *)FIELD_CAT(base, f->aux) & f->bit) != 0;
    case FIELD_FLAG:
        return *(const bool *)FIELD_CAT(base, f->aux);
    case FIELD_PTR:
        /* rs_str and rs_bytes both start with their pointer */
        return *(const void *const *)FIELD_CAT(base, f->off) != NULL;
    case FIELD_REQUIRED:
    default:
        return true;
    }
}

/* Record that an optional f was given (strings record themselves through ptr). */
void field_mark(const struct field *f, void *base)
{
    if (f->presence == FIELD_BIT)
        *(uint32_t *)FIELD_AT(base, f->aux) |= f->bit;
    else if (f->presence == FIELD_FLAG)
        *(bool *)FIELD_AT(base, f->aux) = true;
}

/* Store f's default; the struct was zeroed, so only non-zero defaults need writing. */
void field_default(const struct field *f, void *base)
{
    void *p = FIELD_AT(base, f->off);
    switch (f->kind) {
    case FIELD_UINT:
        *(uint64_t *)p = f->def.u;
        break;
    case FIELD_FLOAT:
        *(double *)p = f->def.f;
        break;
    case FIELD_BOOL:
        *(bool *)p = f->def.b;
        break;
    default:
        break;
    }
}

/* Unsigned value in range. */
const char *field_check_uint(const struct field *f, uint64_t v)
{
    return v < f->min || v > f->max ? "out of range" : NULL;
}

/* Signed value in range. */
const char *field_check_int(const struct field *f, int64_t v)
{
    return v < f->imin || v > f->imax ? "out of range" : NULL;
}

/* A float is a fraction in [0, 1]; NaN fails both comparisons and is refused. */
const char *field_check_float(const struct field *f, double v)
{
    (void)f;
    return v >= 0.0 && v <= 1.0 ? NULL : "out of range";
}

/* A string: length in range, well-formed UTF-8, no NUL. */
const char *field_check_str(const struct field *f, const char *p, size_t len)
{
    if (len < f->min || len > f->max)
        return "length out of range";
    if (len > 0 && memchr(p, 0, len) != NULL)
        return "contains a NUL byte";
    if (!utf8_valid((const uint8_t *)p, len))
        return "not valid UTF-8";
    return NULL;
}

/* Number of entries of a NAMES or JOBS array in range. */
const char *field_check_count(const struct field *f, uint64_t n)
{
    return n < f->min || n > f->max ? "number of entries out of range" : NULL;
}

/* The value of an allowed wire name, or -1. */
int field_enum_parse(const struct field *f, const char *s, size_t len)
{
    int v = codes_parse(f->names, s, len);
    return v >= 0 && (f->allowed & BIT(v)) ? v : -1;
}

/* The wire name of an allowed value, or NULL. */
const char *field_enum_name(const struct field *f, int v)
{
    if (v < 0 || v >= 32 || !(f->allowed & BIT(v)))
        return NULL;
    return codes_name(f->names, v);
}

/* Describe f's range for an error message. */
void field_range(const struct field *f, char *buf, size_t n)
{
    switch (f->kind) {
    case FIELD_UINT:
    case FIELD_STR:
    case FIELD_NAMES:
    case FIELD_JOBS:
        snprintf(buf, n, " (%" PRIu64 "..%" PRIu64 ")", f->min, f->max);
        break;
    case FIELD_INT:
        snprintf(buf, n, " (%" PRId64 "..%" PRId64 ")", f->imin, f->imax);
        break;
    case FIELD_FLOAT:
        snprintf(buf, n, " (0..1)");
        break;
    default:
        buf[0] = '\0';
        break;
    }
}
