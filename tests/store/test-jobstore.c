/*
 * The job statements against a real PostgreSQL: enqueue and idempotency (also racing from 8
 * connections), claim order and SKIP LOCKED, completion fenced by attempt and node, backoff of
 * each policy, dead jobs, release, timeouts, reclaim of lapsed nodes, cancel and retry, list,
 * the timer query and the wake-up notifications.
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

#define NAMES(...)  ((const char *const[]){__VA_ARGS__})
#define LIMITS(...) ((const int32_t[]){__VA_ARGS__})

/* --- small blocking wrappers for the operations the fixture does not cover ---------------- */

struct moved {
    bool done;
    size_t n;
    struct jobstore_moved rows[64];
};

static void moved_cb(void *arg, const struct jobstore_moved *rows, size_t n,
                     const struct jobstore_err *err)
{
    struct moved *m = arg;

    cr_assert_null(err, "%s", err != NULL ? err->message : "");
    cr_assert_leq(n, 64);
    memcpy(m->rows, rows, n * sizeof(*rows));
    m->n = n;
    m->done = true;
}

struct counted {
    bool done;
    size_t n;
};

static void counted_cb(void *arg, size_t count, const struct jobstore_err *err)
{
    struct counted *c = arg;

    cr_assert_null(err, "%s", err != NULL ? err->message : "");
    c->n = count;
    c->done = true;
}

struct changed {
    bool done;
    enum jobstore_change change;
    enum jobstore_status prev;
    bool prev_has_node;
    uint8_t prev_node[16];
    enum jobstore_status status;
    int32_t attempt;
    int32_t uncounted;
};

static void changed_cb(void *arg, const struct jobstore_changed *what,
                       const struct jobstore_err *err)
{
    struct changed *c = arg;

    cr_assert_null(err, "%s", err != NULL ? err->message : "");
    c->change = what->change;
    c->prev = what->prev_status;
    c->prev_has_node = what->prev_has_node;
    memcpy(c->prev_node, what->prev_node, 16);
    if (what->job != NULL) {
        c->status = what->job->status;
        c->attempt = what->job->attempt;
        c->uncounted = what->job->uncounted;
    }
    c->done = true;
}

/* A copy of the fields of a job the tests look at. */
struct got {
    bool done;
    bool found;
    struct jobstore_job job;
    char name[300];
    char args[64];
    char key[300];
    char error[128];
};

static void got_cb(void *arg, const struct jobstore_job *job, const struct jobstore_err *err)
{
    struct got *g = arg;

    cr_assert_null(err, "%s", err != NULL ? err->message : "");
    g->found = job != NULL;
    if (job != NULL) {
        g->job = *job;
        snprintf(g->name, sizeof(g->name), "%s", job->name);
        cr_assert_leq(job->args_len, sizeof(g->args));
        memcpy(g->args, job->args, job->args_len);
        snprintf(g->key, sizeof(g->key), "%s", job->key != NULL ? job->key : "");
        snprintf(g->error, sizeof(g->error), "%s", job->error != NULL ? job->error : "");
    }
    g->done = true;
}

static void get(struct storetest *st, int64_t id, struct got *g)
{
    memset(g, 0, sizeof(*g));
    cr_assert_eq(jobstore_get(st->conn, id, got_cb, g), PGCONN_OK);
    storetest_wait(st, &g->done);
}

static void fail_attempt(struct storetest *st, const uint8_t node[16], int64_t id, int32_t attempt,
                         bool retryable, struct jobstore_moved *row)
{
    struct jobstore_outcome o = {
        .id = id, .attempt = attempt, .error = "boom", .error_len = 4, .retryable = retryable};

    cr_assert_eq(st_complete(st, node, &o, 1, row), 1);
}

/* Make job id due now (tests do not wait out real backoff delays). */
static void make_due(struct storetest *st, int64_t id)
{
    char sql[128];

    snprintf(sql, sizeof(sql), "UPDATE jobs SET run_at = now() WHERE id = %lld", (long long)id);
    st_exec(st, sql);
}

static int32_t claim_one(struct storetest *st, const uint8_t node[16], const char *name, int64_t id)
{
    struct st_claimed c[4];

    cr_assert_eq(st_claim(st, st->conn, node, NAMES(name), LIMITS(4), 1, 1, c, 4), 1);
    cr_assert_eq(c[0].id, id);
    return c[0].attempt;
}

/* --- enqueue ------------------------------------------------------------------------------ */

Test(enqueue, ids_defaults_and_verbatim_data)
{
    struct storetest st;
    struct jobstore_new jobs[3];
    struct jobstore_enqueued out[3];
    static const char args[] = {0, 1, '\'', ';', '\\', (char)0xc3, (char)0xa9};
    const char *evil = "x'); DROP TABLE jobs; --\\ é";
    struct got g;
    int64_t before = st_now_ms();

    storetest_begin(&st, "enq_basic");
    jobstore_new_defaults(&jobs[0], "orders:charge", 13);
    jobs[0].args = args;
    jobs[0].args_len = sizeof(args);
    jobstore_new_defaults(&jobs[1], evil, strlen(evil));
    jobs[1].key = evil;
    jobs[1].key_len = strlen(evil);
    jobstore_new_defaults(&jobs[2], "later", 5);
    jobs[2].delay_ms = 3600 * 1000;
    st_enqueue(&st, st.conn, jobs, 3, out);
    cr_assert(out[0].id > 0 && out[1].id > out[0].id && out[2].id > out[1].id);
    for (int i = 0; i < 3; i++)
        cr_assert_not(out[i].deduplicated);
    cr_assert_geq(out[0].run_at_ms, before - 1);
    cr_assert_leq(out[0].run_at_ms, st_now_ms());
    cr_assert_geq(out[2].run_at_ms, before + 3600 * 1000 - 1);

    get(&st, out[0].id, &g);
    cr_assert(g.found);
    cr_assert_str_eq(g.name, "orders:charge");
    cr_assert_eq(g.job.args_len, sizeof(args));
    cr_assert_eq(memcmp(g.args, args, sizeof(args)), 0);
    cr_assert_eq(g.job.status, JOBSTORE_PENDING);
    cr_assert_eq(g.job.attempt, 0);
    cr_assert_eq(g.job.max_attempts, 3);
    cr_assert_eq(g.job.priority, 0);
    cr_assert_null(g.job.key);
    cr_assert_not(g.job.has_started_at);
    cr_assert_not(g.job.has_result);
    cr_assert_eq(st_int(&st, "SELECT count(*) FROM jobs WHERE backoff = 'exponential'"
                             " AND initial_delay_ms = 1000 AND max_delay_ms = 60000"
                             " AND timeout_ms = 30000 AND jitter = 0.1::real"),
                 3);

    get(&st, out[1].id, &g);
    cr_assert_str_eq(g.name, evil);
    cr_assert_str_eq(g.key, evil);
    get(&st, 999999, &g);
    cr_assert_not(g.found);
    storetest_end(&st);
}

Test(enqueue, explicit_run_at_and_options)
{
    struct storetest st;
    struct jobstore_new job;
    struct jobstore_enqueued out;
    struct got g;

    storetest_begin(&st, "enq_opts");
    jobstore_new_defaults(&job, "f", 1);
    job.has_run_at = true;
    job.run_at_ms = 1700000000123;
    job.priority = -7;
    job.max_attempts = 9;
    job.backoff = JOBSTORE_BACKOFF_LINEAR;
    st_enqueue(&st, st.conn, &job, 1, &out);
    cr_assert_eq(out.run_at_ms, 1700000000123);
    get(&st, out.id, &g);
    cr_assert_eq(g.job.run_at_ms, 1700000000123);
    cr_assert_eq(g.job.priority, -7);
    cr_assert_eq(g.job.max_attempts, 9);
    cr_assert_eq(st_int(&st, "SELECT count(*) FROM jobs WHERE backoff = 'linear'"), 1);
    storetest_end(&st);
}

Test(enqueue, dedup_within_and_across_batches)
{
    struct storetest st;
    struct jobstore_new jobs[4];
    struct jobstore_enqueued out[4], again[1];

    storetest_begin(&st, "enq_dedup");
    jobstore_new_defaults(&jobs[0], "f", 1);
    jobs[0].key = "k1";
    jobs[0].key_len = 2;
    jobs[1] = jobs[0]; /* the same key twice in one batch */
    jobstore_new_defaults(&jobs[2], "g", 1);
    jobs[2].key = "k1"; /* same key, other function: another job */
    jobs[2].key_len = 2;
    jobstore_new_defaults(&jobs[3], "f", 1); /* no key: always new */
    st_enqueue(&st, st.conn, jobs, 4, out);
    cr_assert_not(out[0].deduplicated);
    cr_assert(out[1].deduplicated);
    cr_assert_eq(out[1].id, out[0].id);
    cr_assert_not(out[2].deduplicated);
    cr_assert_neq(out[2].id, out[0].id);
    cr_assert_not(out[3].deduplicated);

    st_enqueue(&st, st.conn, &jobs[0], 1, again);
    cr_assert(again[0].deduplicated);
    cr_assert_eq(again[0].id, out[0].id);
    cr_assert_eq(st_int(&st, "SELECT count(*) FROM jobs"), 3);
    storetest_end(&st);
}

struct racer {
    bool done;
    struct jobstore_enqueued out;
};

static void racer_cb(void *arg, const struct jobstore_enqueued *out, size_t n,
                     const struct jobstore_err *err)
{
    struct racer *r = arg;

    cr_assert_null(err, "%s", err != NULL ? err->message : "");
    cr_assert_eq(n, 1);
    r->out = out[0];
    r->done = true;
}

/* Eight daemons' connections enqueue the same key at the same moment, many times over: one
 * row per key, the same id for all eight, exactly one of them not deduplicated. */
Test(enqueue, dedup_race_eight_connections, .timeout = 120)
{
    enum { CONNS = 8, ROUNDS = 25 };
    struct storetest st;
    struct pgconn *conns[CONNS];

    storetest_begin(&st, "enq_race");
    for (int i = 0; i < CONNS; i++)
        conns[i] = storetest_connect(&st);
    for (int round = 0; round < ROUNDS; round++) {
        struct racer r[CONNS] = {0};
        char key[32];
        int created = 0;

        snprintf(key, sizeof(key), "order-%d", round);
        for (int i = 0; i < CONNS; i++) {
            struct jobstore_new job;

            jobstore_new_defaults(&job, "charge", 6);
            job.key = key;
            job.key_len = strlen(key);
            cr_assert_eq(
                jobstore_enqueue(conns[i], (const uint8_t[16]){0}, &job, 1, racer_cb, &r[i]),
                PGCONN_OK);
        }
        for (int i = 0; i < CONNS; i++)
            storetest_wait(&st, &r[i].done);
        for (int i = 0; i < CONNS; i++) {
            cr_assert_eq(r[i].out.id, r[0].out.id, "round %d: connection %d got another id", round,
                         i);
            created += !r[i].out.deduplicated;
        }
        cr_assert_eq(created, 1, "round %d: %d callers were told they created the job", round,
                     created);
    }
    cr_assert_eq(st_int(&st, "SELECT count(*) FROM jobs"), ROUNDS);
    for (int i = 0; i < CONNS; i++)
        pgconn_free(conns[i]);
    storetest_end(&st);
}

/* --- claim -------------------------------------------------------------------------------- */

Test(claim, names_limits_priority_run_at)
{
    struct storetest st;
    struct jobstore_new jobs[6];
    struct jobstore_enqueued out[6];
    struct st_claimed c[8];
    uint8_t node[16];

    storetest_begin(&st, "claim_order");
    storetest_node(node, 1);
    jobstore_new_defaults(&jobs[0], "f", 1);
    jobstore_new_defaults(&jobs[1], "f", 1);
    jobs[1].priority = 5;
    jobstore_new_defaults(&jobs[2], "f", 1);
    jobs[2].priority = 1;
    jobstore_new_defaults(&jobs[3], "f", 1);
    jobs[3].priority = 9;
    jobs[3].delay_ms = 3600 * 1000; /* best priority, but not due */
    jobstore_new_defaults(&jobs[4], "g", 1);
    jobstore_new_defaults(&jobs[5], "g", 1);
    st_enqueue(&st, st.conn, jobs, 6, out);

    /* One at a time: priority first. */
    cr_assert_eq(st_claim(&st, st.conn, node, NAMES("f"), LIMITS(10), 1, 1, c, 8), 1);
    cr_assert_eq(c[0].id, out[1].id);
    cr_assert_eq(c[0].attempt, 1);
    cr_assert_str_eq(c[0].name, "f");
    cr_assert_gt(c[0].deadline_ms, st_now_ms() + 29000);
    cr_assert_eq(st_claim(&st, st.conn, node, NAMES("f"), LIMITS(10), 1, 1, c, 8), 1);
    cr_assert_eq(c[0].id, out[2].id);
    /* Per-name limits and the total: f has one due job left, g two; g may take one. */
    cr_assert_eq(st_claim(&st, st.conn, node, NAMES("f", "g"), LIMITS(5, 1), 2, 10, c, 8), 2);
    cr_assert_eq(c[0].id, out[0].id);
    cr_assert_eq(c[1].id, out[4].id);
    /* Nothing more of f is due; names not asked for are never claimed. */
    cr_assert_eq(st_claim(&st, st.conn, node, NAMES("f", "h"), LIMITS(5, 5), 2, 10, c, 8), 0);
    cr_assert_str_eq(st_status(&st, out[3].id), "pending");
    cr_assert_str_eq(st_status(&st, out[5].id), "pending");
    cr_assert_eq(st_int(&st, "SELECT count(*) FROM jobs WHERE status = 'running' AND"
                             " lease_node = '01010101-0101-0101-0101-010101010101'"
                             " AND lease_expires_at > now() AND started_at IS NOT NULL"),
                 4);
    storetest_end(&st);
}

/* A cursor: at its priority the claim starts past it; higher and lower priorities are read
 * whole, in order. The claimed rows say where each job sits, which is the next cursor. */
Test(claim, starts_past_the_cursor)
{
    struct storetest st;
    struct jobstore_new jobs[6];
    struct jobstore_enqueued out[6];
    struct st_claimed c[8];
    struct jobstore_cursor cur;
    uint8_t node[16];
    int64_t base = st_now_ms() - 60000;

    storetest_begin(&st, "claim_cursor");
    storetest_node(node, 1);
    for (int i = 0; i < 6; i++) {
        jobstore_new_defaults(&jobs[i], "f", 1);
        jobs[i].has_run_at = true;
        jobs[i].run_at_ms = base + i; /* 0..3 at priority 0, in run_at order */
    }
    jobs[4].priority = 3; /* above the cursor's priority, due earliest of all */
    jobs[4].run_at_ms = base - 1000;
    jobs[5].priority = -3; /* below it */
    st_enqueue(&st, st.conn, jobs, 6, out);

    /* From the start: the higher priority first; its place comes back with it. */
    cr_assert_eq(st_claim(&st, st.conn, node, NAMES("f"), LIMITS(1), 1, 1, c, 8), 1);
    cr_assert_eq(c[0].id, out[4].id);
    cr_assert_eq(c[0].priority, 3);
    cr_assert_eq(c[0].run_at_us, (base - 1000) * 1000);

    /* A cursor at job 1 (priority 0): jobs 0 and 1 lie before it and are not read, though 0
     * is pending; 2 and 3 come next, then the lower priority. */
    cur = (struct jobstore_cursor){true, 0, (base + 1) * 1000, out[1].id};
    cr_assert_eq(st_claim_from(&st, st.conn, node, NAMES("f"), LIMITS(3), &cur, 1, 3, c, 8), 3);
    cr_assert_eq(c[0].id, out[2].id);
    cr_assert_eq(c[1].id, out[3].id);
    cr_assert_eq(c[2].id, out[5].id);
    cr_assert_str_eq(st_status(&st, out[0].id), "pending");
    cr_assert_str_eq(st_status(&st, out[1].id), "pending");

    /* At an equal run_at the id decides: a cursor just before job 1 reads it, not job 0. */
    cur = (struct jobstore_cursor){true, 0, (base + 1) * 1000, out[1].id - 1};
    cr_assert_eq(st_claim_from(&st, st.conn, node, NAMES("f"), LIMITS(5), &cur, 1, 5, c, 8), 1);
    cr_assert_eq(c[0].id, out[1].id);
    cr_assert_eq(c[0].run_at_us, (base + 1) * 1000);

    /* No cursor (set false) reads from the start again. */
    cur.set = false;
    cr_assert_eq(st_claim_from(&st, st.conn, node, NAMES("f"), LIMITS(5), &cur, 1, 5, c, 8), 1);
    cr_assert_eq(c[0].id, out[0].id);
    storetest_end(&st);
}

Test(claim, skips_locked_rows)
{
    struct storetest st;
    struct st_claimed c[8];
    uint8_t node[16];
    int64_t a, b;
    PGconn *locker;
    PGresult *res;
    char sql[128];

    storetest_begin(&st, "claim_skip");
    storetest_node(node, 2);
    a = st_enqueue1(&st, "f", NULL);
    b = st_enqueue1(&st, "f", NULL);
    locker = pgtest_connect(st.conninfo);
    cr_assert_not_null(locker);
    snprintf(sql, sizeof(sql), "BEGIN; SELECT 1 FROM reseolio.jobs WHERE id = %lld FOR UPDATE",
             (long long)a);
    res = PQexec(locker, sql);
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK);
    PQclear(res);
    /* The claim does not wait for the locked row: it takes the next one. */
    cr_assert_eq(st_claim(&st, st.conn, node, NAMES("f"), LIMITS(10), 1, 10, c, 8), 1);
    cr_assert_eq(c[0].id, b);
    res = PQexec(locker, "COMMIT");
    PQclear(res);
    PQfinish(locker);
    cr_assert_eq(st_claim(&st, st.conn, node, NAMES("f"), LIMITS(10), 1, 10, c, 8), 1);
    cr_assert_eq(c[0].id, a);
    storetest_end(&st);
}

struct claimer {
    bool done;
    size_t n;
    int64_t ids[100];
};

static void claimer_cb(void *arg, const struct jobstore_claimed *jobs, size_t n,
                       const struct jobstore_err *err)
{
    struct claimer *c = arg;

    cr_assert_null(err, "%s", err != NULL ? err->message : "");
    for (size_t i = 0; i < n; i++)
        c->ids[i] = jobs[i].id;
    c->n = n;
    c->done = true;
}

/* Two daemons claim at the same moment: disjoint sets that cover every due job. */
Test(claim, concurrent_claims_are_disjoint)
{
    struct storetest st;
    struct jobstore_new jobs[100];
    struct jobstore_enqueued out[100];
    struct claimer a = {0}, b = {0};
    struct pgconn *other;
    uint8_t na[16], nb[16];
    static bool seen[100];

    storetest_begin(&st, "claim_race");
    other = storetest_connect(&st);
    storetest_node(na, 3);
    storetest_node(nb, 4);
    for (int i = 0; i < 100; i++)
        jobstore_new_defaults(&jobs[i], "f", 1);
    st_enqueue(&st, st.conn, jobs, 100, out);
    cr_assert_eq(
        jobstore_claim(st.conn, na, NAMES("f"), LIMITS(60), NULL, NULL, 1, 60, claimer_cb, &a),
        PGCONN_OK);
    cr_assert_eq(
        jobstore_claim(other, nb, NAMES("f"), LIMITS(60), NULL, NULL, 1, 60, claimer_cb, &b),
        PGCONN_OK);
    storetest_wait(&st, &a.done);
    storetest_wait(&st, &b.done);
    cr_assert_eq(a.n + b.n, 100, "claimed %zu + %zu", a.n, b.n);
    for (size_t i = 0; i < a.n; i++)
        seen[a.ids[i] - out[0].id] = true;
    for (size_t i = 0; i < b.n; i++) {
        cr_assert_not(seen[b.ids[i] - out[0].id], "job %lld claimed twice", (long long)b.ids[i]);
        seen[b.ids[i] - out[0].id] = true;
    }
    pgconn_free(other);
    storetest_end(&st);
}

/* --- complete ----------------------------------------------------------------------------- */

Test(complete, success_and_fencing)
{
    struct storetest st;
    uint8_t node[16], other[16];
    int64_t a, b;
    struct jobstore_moved row;
    struct got g;
    struct jobstore_outcome ok = {.ok = true, .result = "\x92\x01\x02", .result_len = 3};

    storetest_begin(&st, "complete");
    storetest_node(node, 5);
    storetest_node(other, 6);
    a = st_enqueue1(&st, "f", NULL);
    b = st_enqueue1(&st, "f", NULL);
    cr_assert_eq(claim_one(&st, node, "f", a), 1);
    cr_assert_eq(claim_one(&st, node, "f", b), 1);

    /* Wrong attempt, wrong node: nothing changes. */
    ok.id = a;
    ok.attempt = 2;
    cr_assert_eq(st_complete(&st, node, &ok, 1, NULL), 0);
    ok.attempt = 1;
    cr_assert_eq(st_complete(&st, other, &ok, 1, NULL), 0);
    cr_assert_str_eq(st_status(&st, a), "running");

    cr_assert_eq(st_complete(&st, node, &ok, 1, &row), 1);
    cr_assert_eq(row.id, a);
    cr_assert_eq(row.status, JOBSTORE_SUCCESS);
    get(&st, a, &g);
    cr_assert_eq(g.job.status, JOBSTORE_SUCCESS);
    cr_assert(g.job.has_result && g.job.result_len == 3);
    cr_assert(g.job.has_finished_at);
    /* A result, once recorded, never changes: a second ack is stale. */
    ok.result = "x";
    ok.result_len = 1;
    cr_assert_eq(st_complete(&st, node, &ok, 1, NULL), 0);
    cr_assert_eq(st_int(&st, "SELECT count(*) FROM jobs WHERE result = '\\x920102'"), 1);

    /* b: released (worker died), claimed again: the old attempt's ack is stale. */
    {
        struct moved m = {0};
        const int64_t ids[1] = {b};
        const int32_t attempts[1] = {1};

        cr_assert_eq(
            jobstore_release(st.conn, node, ids, attempts, 1, true, "worker died", moved_cb, &m),
            PGCONN_OK);
        storetest_wait(&st, &m.done);
        cr_assert_eq(m.n, 1);
        cr_assert_eq(m.rows[0].status, JOBSTORE_PENDING);
    }
    cr_assert_eq(claim_one(&st, node, "f", b), 2);
    ok.id = b;
    ok.attempt = 1;
    cr_assert_eq(st_complete(&st, node, &ok, 1, NULL), 0);
    ok.attempt = 2;
    cr_assert_eq(st_complete(&st, node, &ok, 1, NULL), 1);
    storetest_end(&st);
}

/* Run attempt after attempt failing; check each retry delay against the policy. */
static void check_backoff(enum jobstore_backoff policy, int64_t initial, int64_t max, float jitter,
                          const int64_t *expect, int n)
{
    struct storetest st;
    struct jobstore_new job;
    struct jobstore_enqueued out;
    uint8_t node[16];

    storetest_begin(&st, "backoff");
    storetest_node(node, 7);
    jobstore_new_defaults(&job, "f", 1);
    job.backoff = policy;
    job.initial_delay_ms = initial;
    job.max_delay_ms = max;
    job.jitter = jitter;
    job.max_attempts = 50;
    st_enqueue(&st, st.conn, &job, 1, &out);
    for (int i = 0; i < n; i++) {
        struct jobstore_moved row;
        int32_t attempt = claim_one(&st, node, "f", out.id);
        int64_t before, after, lo, hi;

        cr_assert_eq(attempt, i + 1);
        before = st_now_ms();
        fail_attempt(&st, node, out.id, attempt, true, &row);
        after = st_now_ms();
        cr_assert_eq(row.status, JOBSTORE_PENDING);
        /* ms rounding on either side: 1 ms of slack. */
        lo = before + (int64_t)((double)expect[i] * (1.0 - jitter)) - 1;
        hi = after + expect[i] + 1;
        cr_assert(row.run_at_ms >= lo && row.run_at_ms <= hi,
                  "policy %d attempt %d: delay %lld, want %lld (jitter %.2f)", policy, i + 1,
                  (long long)(row.run_at_ms - before), (long long)expect[i], (double)jitter);
        make_due(&st, out.id);
    }
    storetest_end(&st);
}

Test(complete, backoff_fixed)
{
    const int64_t want[] = {1000, 1000, 1000, 1000};

    check_backoff(JOBSTORE_BACKOFF_FIXED, 1000, 60000, 0, want, 4);
}

Test(complete, backoff_linear)
{
    const int64_t want[] = {500, 1000, 1500, 2000, 2000};

    check_backoff(JOBSTORE_BACKOFF_LINEAR, 500, 2000, 0, want, 5);
}

Test(complete, backoff_exponential_capped)
{
    const int64_t want[] = {1000, 2000, 4000, 8000, 10000, 10000};

    check_backoff(JOBSTORE_BACKOFF_EXPONENTIAL, 1000, 10000, 0, want, 6);
}

Test(complete, backoff_jitter)
{
    const int64_t want[] = {10000, 20000, 40000, 60000};

    check_backoff(JOBSTORE_BACKOFF_EXPONENTIAL, 10000, 60000, 0.5f, want, 4);
}

Test(complete, dead_after_max_attempts_and_when_not_retryable)
{
    struct storetest st;
    struct jobstore_new job;
    struct jobstore_enqueued out[2];
    struct jobstore_new jobs[2];
    struct jobstore_moved row;
    struct got g;
    uint8_t node[16];

    storetest_begin(&st, "dead");
    storetest_node(node, 8);
    jobstore_new_defaults(&job, "f", 1);
    job.max_attempts = 2;
    jobs[0] = job;
    jobstore_new_defaults(&jobs[1], "g", 1);
    st_enqueue(&st, st.conn, jobs, 2, out);

    cr_assert_eq(claim_one(&st, node, "f", out[0].id), 1);
    fail_attempt(&st, node, out[0].id, 1, true, &row);
    cr_assert_eq(row.status, JOBSTORE_PENDING);
    make_due(&st, out[0].id);
    cr_assert_eq(claim_one(&st, node, "f", out[0].id), 2);
    fail_attempt(&st, node, out[0].id, 2, true, &row);
    cr_assert_eq(row.status, JOBSTORE_DEAD);
    get(&st, out[0].id, &g);
    cr_assert_eq(g.job.status, JOBSTORE_DEAD);
    cr_assert_str_eq(g.error, "boom");
    cr_assert(g.job.has_finished_at);

    /* Not retryable: dead at once, attempts left or not. */
    cr_assert_eq(claim_one(&st, node, "g", out[1].id), 1);
    fail_attempt(&st, node, out[1].id, 1, false, &row);
    cr_assert_eq(row.status, JOBSTORE_DEAD);
    cr_assert_eq(st_int(&st, "SELECT count(*) FROM jobs WHERE status = 'dead'"), 2);
    storetest_end(&st);
}

/* --- release, expire, reclaim ------------------------------------------------------------- */

Test(lease, release_counts_or_not)
{
    struct storetest st;
    uint8_t node[16];
    int64_t a, b;
    struct moved m = {0};
    struct got g;

    storetest_begin(&st, "release");
    storetest_node(node, 9);
    a = st_enqueue1(&st, "f", NULL);
    b = st_enqueue1(&st, "f", NULL);
    cr_assert_eq(claim_one(&st, node, "f", a), 1);
    cr_assert_eq(claim_one(&st, node, "f", b), 1);

    /* Shutdown: every running job of the node back to pending, attempts not counted. */
    cr_assert_eq(jobstore_release(st.conn, node, NULL, NULL, 0, false, NULL, moved_cb, &m),
                 PGCONN_OK);
    storetest_wait(&st, &m.done);
    cr_assert_eq(m.n, 2);
    get(&st, a, &g);
    cr_assert_eq(g.job.status, JOBSTORE_PENDING);
    cr_assert_eq(g.job.attempt, 1);
    cr_assert_eq(g.job.uncounted, 1);
    cr_assert_leq(g.job.run_at_ms, st_now_ms());
    /* The fencing token still moves forward. */
    cr_assert_eq(claim_one(&st, node, "f", a), 2);
    storetest_end(&st);
}

Test(lease, expire_own_at_once_others_after_grace)
{
    struct storetest st;
    uint8_t me[16], peer[16];
    int64_t mine, theirs;
    struct moved m = {0};
    struct got g;

    storetest_begin(&st, "expire");
    storetest_node(me, 10);
    storetest_node(peer, 11);
    mine = st_enqueue1(&st, "f", NULL);
    theirs = st_enqueue1(&st, "g", NULL);
    claim_one(&st, me, "f", mine);
    claim_one(&st, peer, "g", theirs);
    st_exec(&st, "UPDATE jobs SET lease_expires_at = now() - interval '1 second'");

    cr_assert_eq(jobstore_expire(st.conn, me, 60000, 100, moved_cb, &m), PGCONN_OK);
    storetest_wait(&st, &m.done);
    cr_assert_eq(m.n, 1);
    cr_assert_eq(m.rows[0].id, mine);
    cr_assert_eq(m.rows[0].status, JOBSTORE_PENDING);
    cr_assert(m.rows[0].has_node && memcmp(m.rows[0].node, me, 16) == 0);
    cr_assert_gt(m.rows[0].run_at_ms, st_now_ms() + 500); /* backoff applies */
    get(&st, mine, &g);
    cr_assert(strncmp(g.error, "timeout", 7) == 0, "%s", g.error);

    memset(&m, 0, sizeof(m));
    cr_assert_eq(jobstore_expire(st.conn, me, 0, 100, moved_cb, &m), PGCONN_OK);
    storetest_wait(&st, &m.done);
    cr_assert_eq(m.n, 1);
    cr_assert_eq(m.rows[0].id, theirs);
    cr_assert(m.rows[0].has_node && memcmp(m.rows[0].node, peer, 16) == 0);
    storetest_end(&st);
}

Test(lease, reclaim_lapsed_nodes)
{
    struct storetest st;
    uint8_t live[16], lost[16];
    int64_t a, b;
    struct moved m = {0};
    struct counted k = {0};

    storetest_begin(&st, "reclaim");
    storetest_node(live, 12);
    storetest_node(lost, 13);
    cr_assert_eq(jobstore_node_beat(st.conn, live, "host-a", 100, counted_cb, &k), PGCONN_OK);
    storetest_wait(&st, &k.done);
    cr_assert_eq(k.n, 1);
    a = st_enqueue1(&st, "f", NULL);
    b = st_enqueue1(&st, "g", NULL);
    claim_one(&st, live, "f", a);
    claim_one(&st, lost, "g", b); /* lost never beat: as if its row was pruned */

    cr_assert_eq(jobstore_reclaim(st.conn, 60000, 100, "node lost", moved_cb, &m), PGCONN_OK);
    storetest_wait(&st, &m.done);
    cr_assert_eq(m.n, 1);
    cr_assert_eq(m.rows[0].id, b);
    cr_assert_eq(m.rows[0].status, JOBSTORE_PENDING);
    cr_assert_str_eq(st_status(&st, a), "running");

    /* The live node stops beating. */
    st_exec(&st, "UPDATE nodes SET heartbeat_at = now() - interval '2 minutes'");
    memset(&m, 0, sizeof(m));
    cr_assert_eq(jobstore_reclaim(st.conn, 60000, 100, "node lost", moved_cb, &m), PGCONN_OK);
    storetest_wait(&st, &m.done);
    cr_assert_eq(m.n, 1);
    cr_assert_eq(m.rows[0].id, a);

    memset(&k, 0, sizeof(k));
    cr_assert_eq(jobstore_node_prune(st.conn, 60000, counted_cb, &k), PGCONN_OK);
    storetest_wait(&st, &k.done);
    cr_assert_eq(k.n, 1);
    cr_assert_eq(st_int(&st, "SELECT count(*) FROM nodes"), 0);
    storetest_end(&st);
}

/* --- cancel, retry, list, next_run_at ----------------------------------------------------- */

Test(admin, cancel_and_retry)
{
    struct storetest st;
    uint8_t node[16];
    int64_t a, b;
    struct changed c = {0};

    storetest_begin(&st, "cancel");
    storetest_node(node, 14);
    a = st_enqueue1(&st, "f", NULL);
    b = st_enqueue1(&st, "g", NULL);
    claim_one(&st, node, "g", b);

    cr_assert_eq(jobstore_cancel(st.conn, a, changed_cb, &c), PGCONN_OK);
    storetest_wait(&st, &c.done);
    cr_assert_eq(c.change, JOBSTORE_CHANGED);
    cr_assert_eq(c.prev, JOBSTORE_PENDING);
    cr_assert_eq(c.status, JOBSTORE_CANCELLED);

    memset(&c, 0, sizeof(c));
    cr_assert_eq(jobstore_cancel(st.conn, b, changed_cb, &c), PGCONN_OK);
    storetest_wait(&st, &c.done);
    cr_assert_eq(c.change, JOBSTORE_CHANGED);
    cr_assert_eq(c.prev, JOBSTORE_RUNNING);
    cr_assert(c.prev_has_node && memcmp(c.prev_node, node, 16) == 0);
    /* The running attempt's ack is now stale. */
    {
        struct jobstore_outcome ok = {.id = b, .attempt = 1, .ok = true};

        cr_assert_eq(st_complete(&st, node, &ok, 1, NULL), 0);
    }

    memset(&c, 0, sizeof(c));
    cr_assert_eq(jobstore_cancel(st.conn, a, changed_cb, &c), PGCONN_OK);
    storetest_wait(&st, &c.done);
    cr_assert_eq(c.change, JOBSTORE_CONFLICT);
    cr_assert_eq(c.prev, JOBSTORE_CANCELLED);

    memset(&c, 0, sizeof(c));
    cr_assert_eq(jobstore_retry(st.conn, b, changed_cb, &c), PGCONN_OK);
    storetest_wait(&st, &c.done);
    cr_assert_eq(c.change, JOBSTORE_CHANGED);
    cr_assert_eq(c.status, JOBSTORE_PENDING);
    cr_assert_eq(c.attempt, 1);   /* the fencing token never goes back */
    cr_assert_eq(c.uncounted, 1); /* but the attempt does not count any more */
    cr_assert_eq(claim_one(&st, node, "g", b), 2);

    memset(&c, 0, sizeof(c));
    cr_assert_eq(jobstore_retry(st.conn, b, changed_cb, &c), PGCONN_OK);
    storetest_wait(&st, &c.done);
    cr_assert_eq(c.change, JOBSTORE_CONFLICT);

    memset(&c, 0, sizeof(c));
    cr_assert_eq(jobstore_cancel(st.conn, 424242, changed_cb, &c), PGCONN_OK);
    storetest_wait(&st, &c.done);
    cr_assert_eq(c.change, JOBSTORE_NOT_FOUND);
    storetest_end(&st);
}

struct listed {
    bool done;
    size_t n;
    int64_t ids[16];
    int64_t next;
};

static void listed_cb(void *arg, const struct jobstore_job *jobs, size_t n, int64_t next,
                      const struct jobstore_err *err)
{
    struct listed *l = arg;

    cr_assert_null(err, "%s", err != NULL ? err->message : "");
    for (size_t i = 0; i < n; i++)
        l->ids[i] = jobs[i].id;
    l->n = n;
    l->next = next;
    l->done = true;
}

static void list(struct storetest *st, int status, const char *name, int64_t before, int32_t limit,
                 struct listed *l)
{
    memset(l, 0, sizeof(*l));
    struct jobstore_filter f = {status, name, before, limit, 0};
    cr_assert_eq(jobstore_list(st->conn, &f, listed_cb, l), PGCONN_OK);
    storetest_wait(st, &l->done);
}

Test(admin, list_pages_and_filters)
{
    struct storetest st;
    int64_t id[5];
    struct listed l;
    uint8_t node[16];

    storetest_begin(&st, "list");
    storetest_node(node, 15);
    for (int i = 0; i < 5; i++)
        id[i] = st_enqueue1(&st, i == 4 ? "g" : "f", NULL);
    list(&st, -1, NULL, 0, 2, &l);
    cr_assert_eq(l.n, 2);
    cr_assert_eq(l.ids[0], id[4]);
    cr_assert_eq(l.ids[1], id[3]);
    cr_assert_eq(l.next, id[3]);
    list(&st, -1, NULL, l.next, 2, &l);
    cr_assert_eq(l.n, 2);
    cr_assert_eq(l.ids[0], id[2]);
    list(&st, -1, NULL, l.next, 2, &l);
    cr_assert_eq(l.n, 1);
    cr_assert_eq(l.ids[0], id[0]);
    cr_assert_eq(l.next, 0);

    list(&st, -1, "g", 0, 10, &l);
    cr_assert_eq(l.n, 1);
    claim_one(&st, node, "g", id[4]);
    list(&st, JOBSTORE_RUNNING, NULL, 0, 10, &l);
    cr_assert_eq(l.n, 1);
    cr_assert_eq(l.ids[0], id[4]);
    list(&st, JOBSTORE_PENDING, "f", 0, 10, &l);
    cr_assert_eq(l.n, 4);
    storetest_end(&st);
}

struct nexted {
    bool done;
    bool has;
    int64_t at;
};

static void nexted_cb(void *arg, bool has, int64_t at, const struct jobstore_err *err)
{
    struct nexted *x = arg;

    cr_assert_null(err, "%s", err != NULL ? err->message : "");
    x->has = has;
    x->at = at;
    x->done = true;
}

Test(admin, next_run_at)
{
    struct storetest st;
    struct jobstore_new job;
    struct jobstore_enqueued out;
    struct nexted x = {0};

    storetest_begin(&st, "next_run_at");
    st_enqueue1(&st, "f", NULL); /* due now: not a timer's business */
    cr_assert_eq(jobstore_next_run_at(st.conn, NAMES("f", "g"), 2, 0, nexted_cb, &x), PGCONN_OK);
    storetest_wait(&st, &x.done);
    cr_assert_not(x.has);

    jobstore_new_defaults(&job, "g", 1);
    job.delay_ms = 10000;
    st_enqueue(&st, st.conn, &job, 1, &out);
    memset(&x, 0, sizeof(x));
    cr_assert_eq(jobstore_next_run_at(st.conn, NAMES("f", "g"), 2, 0, nexted_cb, &x), PGCONN_OK);
    storetest_wait(&st, &x.done);
    cr_assert(x.has);
    cr_assert_eq(x.at, out.run_at_ms);
    memset(&x, 0, sizeof(x));
    cr_assert_eq(jobstore_next_run_at(st.conn, NAMES("f"), 1, 0, nexted_cb, &x), PGCONN_OK);
    storetest_wait(&st, &x.done);
    cr_assert_not(x.has);
    storetest_end(&st);
}

/* --- notifications ------------------------------------------------------------------------ */

struct heard {
    int n;
    char payload[8][128];
};

static void heard_cb(void *arg, const char *channel, const char *payload)
{
    struct heard *h = arg;

    cr_assert_str_eq(channel, "reseolio");
    cr_assert_lt(h->n, 8);
    snprintf(h->payload[h->n++], sizeof(h->payload[0]), "%s", payload);
}

Test(notify, wake_ups_are_tiny_and_per_transaction)
{
    struct storetest st;
    static const char *const channels[] = {"reseolio"};
    struct heard h = {0};
    struct pgconn *listener;
    struct pgconn_config cfg = {0};
    struct jobstore_new jobs[3];
    struct jobstore_enqueued out[3];
    struct jobstore_outcome ok = {.ok = true};
    uint8_t node[16];
    char want[64];

    storetest_begin(&st, "notify");
    storetest_node(node, 16);
    cfg.conninfo = st.conninfo;
    cfg.channels = channels;
    cfg.nchannels = 1;
    cfg.on_notify = heard_cb;
    cfg.arg = &h;
    listener = pgconn_new(st.base, &cfg);
    cr_assert_not_null(listener);
    while (!pgconn_ready(listener))
        cr_assert_geq(event_base_loop(st.base, EVLOOP_ONCE), 0);

    /* One function: its name, the earliest run_at (microseconds) and the smallest id. */
    jobstore_new_defaults(&jobs[0], "f", 1);
    jobstore_new_defaults(&jobs[1], "f", 1);
    st_enqueue(&st, st.conn, jobs, 2, out);
    while (h.n < 1)
        cr_assert_geq(event_base_loop(st.base, EVLOOP_ONCE), 0);
    snprintf(want, sizeof(want), "p:%lld:%lld:f", (long long)out[0].run_at_ms * 1000,
             (long long)(out[0].id < out[1].id ? out[0].id : out[1].id));
    cr_assert_str_eq(h.payload[0], want);

    /* Several functions: no name (everyone claims). One notification per transaction. */
    jobstore_new_defaults(&jobs[2], "g", 1);
    st_enqueue(&st, st.conn, &jobs[1], 2, out);
    while (h.n < 2)
        cr_assert_geq(event_base_loop(st.base, EVLOOP_ONCE), 0);
    cr_assert(strncmp(h.payload[1], "p:", 2) == 0 && h.payload[1][strlen(h.payload[1]) - 1] == ':',
              "%s", h.payload[1]);

    /* A completion: the ids, for waiters on every host. */
    claim_one(&st, node, "g", out[1].id);
    ok.id = out[1].id;
    ok.attempt = 1;
    cr_assert_eq(st_complete(&st, node, &ok, 1, NULL), 1);
    while (h.n < 3)
        cr_assert_geq(event_base_loop(st.base, EVLOOP_ONCE), 0);
    snprintf(want, sizeof(want), "c:%lld", (long long)out[1].id);
    cr_assert_str_eq(h.payload[2], want);
    pgconn_free(listener);
    storetest_end(&st);
}
