/*
 * storetest: see storetest.h. Every helper asserts: a test reads as the steps it checks.
 */
#include "storetest.h"

#include "pgtest.h"
#include "schema.h"
#include "stmts.h"

#include <criterion/criterion.h>
#include <event2/event.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void storetest_ready(void *arg, bool reconnect)
{
    struct storetest *st = arg;

    (void)reconnect;
    st->ready = true;
    st->readies++;
}

void storetest_begin(struct storetest *st, const char *prefix)
{
    char err[512];
    int version = 0;

    memset(st, 0, sizeof(*st));
    st->conninfo = pgtest_create_db(prefix);
    cr_assert_not_null(st->conninfo, "cannot create a test database");
    cr_assert_eq(schema_migrate(st->conninfo, SCHEMA_DEFAULT, &version, err, sizeof(err)), 0,
                 "migrate: %s", err);
    st->base = event_base_new();
    cr_assert_not_null(st->base);
    st->conn = storetest_connect(st);
}

struct pgconn *storetest_connect(struct storetest *st)
{
    struct pgconn_config cfg = {
        .conninfo = st->conninfo,
        .schema = SCHEMA_DEFAULT,
        .preps = stmts_table,
        .npreps = STMT_COUNT,
        .on_ready = storetest_ready,
        .arg = st,
    };
    struct pgconn *c;

    st->ready = false;
    c = pgconn_new(st->base, &cfg);
    cr_assert_not_null(c);
    storetest_wait(st, &st->ready);
    return c;
}

void storetest_end(struct storetest *st)
{
    pgconn_free(st->conn);
    st->conn = NULL;
    if (st->base != NULL)
        event_base_free(st->base);
    free(st->conninfo);
}

void storetest_wait(struct storetest *st, const bool *flag)
{
    while (!*flag)
        cr_assert_geq(event_base_loop(st->base, EVLOOP_ONCE), 0, "event loop failed");
}

void storetest_node(uint8_t node[16], uint8_t b)
{
    memset(node, b, 16);
}

struct st_wait {
    bool done;
    void *out;
    size_t max;
    size_t n;
};

static void st_enqueue_cb(void *arg, const struct jobstore_enqueued *out, size_t n,
                          const struct jobstore_err *err)
{
    struct st_wait *w = arg;

    cr_assert_null(err, "enqueue failed: %s", err != NULL ? err->message : "");
    memcpy(w->out, out, n * sizeof(*out));
    w->n = n;
    w->done = true;
}

void st_enqueue(struct storetest *st, struct pgconn *c, const struct jobstore_new *jobs, size_t n,
                struct jobstore_enqueued *out)
{
    struct st_wait w = {.out = out};

    cr_assert_eq(jobstore_enqueue(c, (const uint8_t[16]){0}, jobs, n, st_enqueue_cb, &w),
                 PGCONN_OK);
    storetest_wait(st, &w.done);
    cr_assert_eq(w.n, n);
}

int64_t st_enqueue1(struct storetest *st, const char *name, const char *key)
{
    struct jobstore_new job;
    struct jobstore_enqueued out;

    jobstore_new_defaults(&job, name, strlen(name));
    if (key != NULL) {
        job.key = key;
        job.key_len = strlen(key);
    }
    st_enqueue(st, st->conn, &job, 1, &out);
    return out.id;
}

static void st_claim_cb(void *arg, const struct jobstore_claimed *jobs, size_t n,
                        const struct jobstore_err *err)
{
    struct st_wait *w = arg;
    struct st_claimed *out = w->out;

    cr_assert_null(err, "claim failed: %s", err != NULL ? err->message : "");
    cr_assert_leq(n, w->max);
    for (size_t i = 0; i < n; i++) {
        out[i].id = jobs[i].id;
        snprintf(out[i].name, sizeof(out[i].name), "%s", jobs[i].name);
        out[i].attempt = jobs[i].attempt;
        out[i].deadline_ms = jobs[i].deadline_ms;
        out[i].priority = jobs[i].priority;
        out[i].run_at_us = jobs[i].run_at_us;
    }
    w->n = n;
    w->done = true;
}

/* Claimed rows come back in no particular order: sort by id for stable assertions. */
static int st_claimed_cmp(const void *a, const void *b)
{
    const struct st_claimed *x = a, *y = b;

    return x->id < y->id ? -1 : x->id > y->id;
}

size_t st_claim(struct storetest *st, struct pgconn *c, const uint8_t node[16],
                const char *const *names, const int32_t *limits, size_t nnames, int32_t total,
                struct st_claimed *out, size_t max)
{
    return st_claim_from(st, c, node, names, limits, NULL, nnames, total, out, max);
}

size_t st_claim_from(struct storetest *st, struct pgconn *c, const uint8_t node[16],
                     const char *const *names, const int32_t *limits,
                     const struct jobstore_cursor *cursors, size_t nnames, int32_t total,
                     struct st_claimed *out, size_t max)
{
    struct st_wait w = {.out = out, .max = max};

    cr_assert_eq(
        jobstore_claim(c, node, names, limits, NULL, cursors, nnames, total, st_claim_cb, &w),
        PGCONN_OK);
    storetest_wait(st, &w.done);
    qsort(out, w.n, sizeof(*out), st_claimed_cmp);
    return w.n;
}

static void st_moved_cb(void *arg, const struct jobstore_moved *rows, size_t n,
                        const struct jobstore_err *err)
{
    struct st_wait *w = arg;

    cr_assert_null(err, "statement failed: %s", err != NULL ? err->message : "");
    if (w->out != NULL)
        memcpy(w->out, rows, n * sizeof(*rows));
    w->n = n;
    w->done = true;
}

size_t st_complete(struct storetest *st, const uint8_t node[16],
                   const struct jobstore_outcome *outcomes, size_t n, struct jobstore_moved *out)
{
    struct st_wait w = {.out = out};

    cr_assert_eq(jobstore_complete(st->conn, node, outcomes, n, st_moved_cb, &w), PGCONN_OK);
    storetest_wait(st, &w.done);
    return w.n;
}

const char *st_status(struct storetest *st, int64_t id)
{
    static const char *const names[] = {"pending", "running", "success", "dead", "cancelled"};
    char sql[160];
    long long s;

    snprintf(sql, sizeof(sql),
             "SELECT array_position(enum_range(NULL::reseolio.job_status), status) - 1"
             " FROM reseolio.jobs WHERE id = %lld",
             (long long)id);
    s = pgtest_query_int(st->conninfo, sql);
    cr_assert(s >= 0 && s < 5);
    return names[s];
}

long long st_int(struct storetest *st, const char *sql)
{
    char buf[2048];

    snprintf(buf, sizeof(buf), "SET search_path = reseolio; %s", sql);
    return pgtest_query_int(st->conninfo, buf);
}

void st_exec(struct storetest *st, const char *sql)
{
    char buf[2048];

    snprintf(buf, sizeof(buf), "SET search_path = reseolio; %s", sql);
    cr_assert_eq(pgtest_exec(st->conninfo, buf), 0, "SQL failed: %s", sql);
}

int64_t st_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
