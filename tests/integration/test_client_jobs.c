/*
 * libreseolio end to end: the real reseoliod on a fresh PostgreSQL database per test, a
 * producer client and worker clients (each rs_worker_run on a thread of its own), through
 * every call of reseolio.h: enqueue, await, get, cancel, retry, list, the worker, ABANDON.
 *
 * Needs the daemon's job engine. Registered in tests/integration/meson.build as
 *   exe = executable('test_client_jobs', 'test_client_jobs.c', link_with : integration_support,
 *     dependencies : integration_deps + [testsupport_dep])
 *   test('client-jobs', pg_wrapper, args : [exe], suite : 'integration', env : integration_env,
 *     depends : [reseoliod], timeout : 180, is_parallel : false)
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon_proc.h"
#include "pgtest.h"
#include "reseolio.h"

#define AWAIT_MS 30000

static struct daemon_proc dmn;
static char *db;

/* A daemon on a database of this test's own. */
static void start(void)
{
    db = pgtest_create_db("client_jobs");
    cr_assert_not_null(db);
    const char *args[] = {"--storage", db, "--log-level", "debug", NULL};
    struct daemon_opts o = {.args = args};
    cr_assert_eq(daemon_proc_init(&dmn), 0);
    cr_assert_eq(daemon_proc_start(&dmn, &o), 0, "reseoliod did not get ready");
}

static void stop(void)
{
    int st = daemon_proc_stop(&dmn);
    daemon_proc_cleanup(&dmn);
    free(db);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "reseoliod exit status %#x", st);
}

static struct rs_client *connect_client(const char *name)
{
    struct rs_client_opts opts;
    rs_client_opts_init(&opts);
    opts.name = name;
    struct rs_client *c = NULL;
    char *err = NULL;
    enum rs_client_status st = rs_client_connect(dmn.socket, &opts, &c, &err);
    cr_assert_eq(st, RS_CLIENT_OK, "connect: %s", err != NULL ? err : "?");
    return c;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- a worker on a thread of its own ---- */

struct worker {
    struct rs_client *c;
    pthread_t thread;
    enum rs_client_status result; /* what rs_worker_run returned */
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    w->result = rs_worker_run(w->c);
    return NULL;
}

/* Register one handler (more with worker_also before worker_go). */
static void worker_new(struct worker *w, const char *name, rs_handler_fn fn, void *user,
                       unsigned concurrency)
{
    memset(w, 0, sizeof(*w));
    w->c = connect_client("client-jobs-worker");
    cr_assert_eq(rs_worker_register(w->c, name, fn, user), RS_CLIENT_OK, "%s",
                 rs_client_errmsg(w->c));
    cr_assert_eq(rs_worker_set_concurrency(w->c, concurrency), RS_CLIENT_OK);
}

static void worker_go(struct worker *w)
{
    cr_assert_eq(pthread_create(&w->thread, NULL, worker_main, w), 0);
}

/* Stop it (running jobs finish), join, close; returns what rs_worker_run returned. */
static enum rs_client_status worker_end(struct worker *w)
{
    rs_worker_stop(w->c);
    pthread_join(w->thread, NULL);
    rs_client_close(w->c);
    return w->result;
}

/* ---- handlers ---- */

/* it:add: args are two bytes a, b; the result is one byte a + b. */
static int handle_add(struct rs_job_ctx *job, void *user)
{
    (void)user;
    size_t len;
    const uint8_t *a = rs_job_args(job, &len);
    if (len != 2)
        return rs_job_set_error(job, false, "it:add takes 2 bytes, got %zu", len);
    uint8_t sum = (uint8_t)(a[0] + a[1]);
    return rs_job_set_result(job, &sum, 1) == RS_CLIENT_OK ? 0 : -1;
}

/* it:flaky: fails (retryably) until the attempt named by its one-byte args. */
static int handle_flaky(struct rs_job_ctx *job, void *user)
{
    (void)user;
    size_t len;
    const uint8_t *a = rs_job_args(job, &len);
    if (len == 1 && rs_job_attempt(job) < a[0])
        return rs_job_set_error(job, true, "attempt %llu fails on purpose",
                                (unsigned long long)rs_job_attempt(job));
    return 0;
}

/* it:broken: fails for good. */
static int handle_broken(struct rs_job_ctx *job, void *user)
{
    (void)user;
    return rs_job_set_error(job, false, "this input can never work");
}

/* it:hang: runs until abandoned (bounded); counts the cancellations it saw. */
static atomic_int hang_started, hang_cancelled;
static int handle_hang(struct rs_job_ctx *job, void *user)
{
    (void)user;
    atomic_fetch_add(&hang_started, 1);
    for (int64_t end = now_ms() + AWAIT_MS; now_ms() < end;) {
        if (rs_job_cancelled(job)) {
            atomic_fetch_add(&hang_cancelled, 1);
            return rs_job_set_error(job, true, "abandoned");
        }
        usleep(2000);
    }
    return 0;
}

/* Wait (bounded) until *counter reaches n. */
static bool wait_count(atomic_int *counter, int n)
{
    for (int64_t end = now_ms() + AWAIT_MS; now_ms() < end; usleep(2000))
        if (atomic_load(counter) >= n)
            return true;
    return false;
}

/* Enqueue name(args) with opts; returns the job id. */
static uint64_t enqueue(struct rs_client *c, const char *name, const void *args, size_t len,
                        const struct rs_enqueue_opts *o)
{
    struct rs_enqueue_result r;
    enum rs_client_status st = rs_enqueue(c, name, args, len, o, &r);
    cr_assert_eq(st, RS_CLIENT_OK, "enqueue %s: %s", name, rs_client_errmsg(c));
    cr_assert_gt(r.job, 0);
    return r.job;
}

/* Await job, which must end in status. The caller frees the completion. */
static struct rs_completion *await_status(struct rs_client *c, uint64_t job,
                                          enum rs_job_status status)
{
    struct rs_completion *done = NULL;
    enum rs_client_status st = rs_await(c, job, AWAIT_MS, &done);
    cr_assert_eq(st, RS_CLIENT_OK, "await %llu: %s", (unsigned long long)job, rs_client_errmsg(c));
    cr_assert_eq(done->job, job);
    cr_assert_eq(done->status, status, "job %llu ended %s, expected %s", (unsigned long long)job,
                 rs_job_status_name(done->status), rs_job_status_name(status));
    return done;
}

/* ---- the tests ---- */

TestSuite(client_jobs, .init = start, .fini = stop, .timeout = 120);

Test(client_jobs, enqueue_run_await_get)
{
    struct worker w;
    worker_new(&w, "it:add", handle_add, NULL, 1);
    worker_go(&w);
    struct rs_client *c = connect_client("client-jobs-producer");
    uint64_t job = enqueue(c, "it:add", "\x02\x03", 2, NULL);
    struct rs_completion *done = await_status(c, job, RS_JOB_SUCCESS);
    cr_expect(done->result != NULL && done->result_len == 1 && done->result[0] == 5);
    cr_expect_eq(done->attempt, 1);
    rs_completion_free(done);

    /* Awaiting a job that is final already answers at once. */
    int64_t t0 = now_ms();
    done = await_status(c, job, RS_JOB_SUCCESS);
    cr_expect_lt(now_ms() - t0, 2000);
    rs_completion_free(done);

    struct rs_job_info *j = NULL;
    cr_assert_eq(rs_get(c, job, &j), RS_CLIENT_OK, "%s", rs_client_errmsg(c));
    cr_expect_eq(j->id, job);
    cr_expect_str_eq(j->name, "it:add");
    cr_expect_eq(j->status, RS_JOB_SUCCESS);
    cr_expect_eq(j->attempt, 1);
    cr_expect_eq(j->max_attempts, 3);
    cr_expect(j->args_len == 2 && memcmp(j->args, "\x02\x03", 2) == 0);
    cr_expect(j->result != NULL && j->result_len == 1 && j->result[0] == 5);
    cr_expect_gt(j->created_at, 0);
    cr_expect_gt(j->started_at, 0);
    cr_expect_geq(j->finished_at, j->started_at);
    rs_job_info_free(j);

    cr_expect_eq(rs_get(c, job + 1000000, &j), RS_CLIENT_E_SERVER);
    cr_expect_str_eq(rs_client_error_code(c), "not_found");
    rs_client_close(c);
    cr_expect_eq(worker_end(&w), RS_CLIENT_OK);
}

/* Non-blocking: many calls in flight, each AWAIT sent from its ENQUEUED callback. */
struct nb_call {
    uint8_t a, b;
    uint64_t job;
    bool ok;
};
static int nb_done;

static void nb_on_completed(struct rs_client *c, const struct rs_reply *r, void *arg)
{
    (void)c;
    struct nb_call *call = arg;
    nb_done++;
    call->ok = r->status == RS_CLIENT_OK && r->completion->status == RS_JOB_SUCCESS &&
               r->completion->result_len == 1 &&
               r->completion->result[0] == (uint8_t)(call->a + call->b);
}

static void nb_on_enqueued(struct rs_client *c, const struct rs_reply *r, void *arg)
{
    struct nb_call *call = arg;
    if (r->status != RS_CLIENT_OK) {
        nb_done++;
        return;
    }
    call->job = r->enqueued->job;
    if (rs_await_async(c, call->job, AWAIT_MS, nb_on_completed, call) != RS_CLIENT_OK)
        nb_done++;
}

Test(client_jobs, many_calls_in_flight_in_non_blocking_mode)
{
    struct worker w;
    worker_new(&w, "it:add", handle_add, NULL, 4);
    worker_go(&w);
    struct rs_client *c = connect_client("client-jobs-nonblocking");
    enum { N = 100 };
    static struct nb_call calls[N];
    nb_done = 0;
    for (int i = 0; i < N; i++) {
        calls[i] = (struct nb_call){.a = (uint8_t)i, .b = 1};
        uint8_t args[2] = {calls[i].a, calls[i].b};
        cr_assert_eq(rs_enqueue_async(c, "it:add", args, 2, NULL, nb_on_enqueued, &calls[i]),
                     RS_CLIENT_OK, "%s", rs_client_errmsg(c));
    }
    while (nb_done < N) {
        short events = POLLIN;
        if (rs_client_want_write(c))
            events |= POLLOUT;
        struct pollfd p = {.fd = rs_client_fd(c), .events = events};
        cr_assert_gt(poll(&p, 1, AWAIT_MS), 0, "no progress: %d of %d done", nb_done, N);
        cr_assert_eq(rs_client_process(c, p.revents), RS_CLIENT_OK, "%s", rs_client_errmsg(c));
    }
    for (int i = 0; i < N; i++)
        cr_expect(calls[i].ok, "call %d (job %llu)", i, (unsigned long long)calls[i].job);
    rs_client_close(c);
    cr_expect_eq(worker_end(&w), RS_CLIENT_OK);
}

/* The same key from many connections at once: one job. */
struct racer {
    uint64_t job;
    bool dedup;
    enum rs_client_status st;
};

static void *race_enqueue(void *arg)
{
    struct racer *r = arg;
    struct rs_client *c = NULL;
    char *err = NULL;
    r->st = rs_client_connect(dmn.socket, NULL, &c, &err);
    free(err);
    if (r->st != RS_CLIENT_OK)
        return NULL;
    struct rs_enqueue_opts o;
    rs_enqueue_opts_init(&o);
    o.idempotency_key = "order-42";
    o.delay_ms = 3600000; /* keep it pending: no worker here anyway */
    struct rs_enqueue_result res;
    r->st = rs_enqueue(c, "it:add", "\x01\x01", 2, &o, &res);
    r->job = res.job;
    r->dedup = res.deduplicated;
    rs_client_close(c);
    return NULL;
}

Test(client_jobs, one_idempotency_key_one_job_under_concurrency)
{
    enum { N = 8 };
    pthread_t t[N];
    struct racer r[N];
    memset(r, 0, sizeof(r));
    for (int i = 0; i < N; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, race_enqueue, &r[i]), 0);
    int fresh = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        cr_expect_eq(r[i].st, RS_CLIENT_OK);
        cr_expect_eq(r[i].job, r[0].job, "one id for one key");
        fresh += !r[i].dedup;
    }
    cr_expect_eq(fresh, 1, "exactly one enqueue created the job");
    struct rs_client *c = connect_client("client-jobs-list");
    struct rs_list_filter f = {.name = "it:add"};
    struct rs_job_list *l = NULL;
    cr_assert_eq(rs_list(c, &f, 0, &l), RS_CLIENT_OK, "%s", rs_client_errmsg(c));
    cr_expect_eq(l->count, 1);
    if (l->count == 1)
        cr_expect_str_eq(l->jobs[0].key, "order-42");
    rs_job_list_free(l);
    rs_client_close(c);
}

Test(client_jobs, retries_until_success_then_dead_for_a_final_error)
{
    struct worker w;
    worker_new(&w, "it:flaky", handle_flaky, NULL, 1);
    cr_assert_eq(rs_worker_register(w.c, "it:broken", handle_broken, NULL), RS_CLIENT_OK);
    worker_go(&w);
    struct rs_client *c = connect_client("client-jobs-retry");
    struct rs_enqueue_opts o;
    rs_enqueue_opts_init(&o);
    o.max_attempts = 5;
    o.backoff = RS_CLIENT_BACKOFF_FIXED;
    o.initial_delay_ms = 50;
    o.jitter = 0;
    uint64_t job = enqueue(c, "it:flaky", "\x03", 1, &o);
    struct rs_completion *done = await_status(c, job, RS_JOB_SUCCESS);
    cr_expect_eq(done->attempt, 3, "succeeded on the third attempt");
    rs_completion_free(done);

    o.max_attempts = 2;
    job = enqueue(c, "it:flaky", "\x09", 1, &o);
    done = await_status(c, job, RS_JOB_DEAD);
    cr_expect_eq(done->attempt, 2, "dead after max_attempts");
    cr_expect(done->error != NULL && strstr(done->error, "attempt 2 fails") != NULL, "error %s",
              done->error != NULL ? done->error : "(none)");
    rs_completion_free(done);

    job = enqueue(c, "it:broken", NULL, 0, &o);
    done = await_status(c, job, RS_JOB_DEAD);
    cr_expect_eq(done->attempt, 1, "a non-retryable error ends the job at once");
    cr_expect_str_eq(done->error, "this input can never work");
    rs_completion_free(done);
    rs_client_close(c);
    cr_expect_eq(worker_end(&w), RS_CLIENT_OK);
}

Test(client_jobs, cancel_a_pending_job_then_retry_it)
{
    struct rs_client *c = connect_client("client-jobs-cancel");
    struct rs_enqueue_opts o;
    rs_enqueue_opts_init(&o);
    o.delay_ms = 3600000;
    uint64_t job = enqueue(c, "it:add", "\x04\x04", 2, &o);
    struct rs_job_info *j = NULL;
    cr_assert_eq(rs_cancel(c, job, &j), RS_CLIENT_OK, "%s", rs_client_errmsg(c));
    cr_expect_eq(j->status, RS_JOB_CANCELLED);
    rs_job_info_free(j);
    struct rs_completion *done = await_status(c, job, RS_JOB_CANCELLED);
    rs_completion_free(done);
    cr_expect_eq(rs_cancel(c, job, &j), RS_CLIENT_E_SERVER, "a final job cannot be cancelled");
    cr_expect_str_eq(rs_client_error_code(c), "conflict");

    cr_assert_eq(rs_retry(c, job, &j), RS_CLIENT_OK, "%s", rs_client_errmsg(c));
    cr_expect_eq(j->status, RS_JOB_PENDING, "retry makes it pending, due now");
    rs_job_info_free(j);
    struct worker w;
    worker_new(&w, "it:add", handle_add, NULL, 1);
    worker_go(&w);
    done = await_status(c, job, RS_JOB_SUCCESS);
    cr_expect(done->result_len == 1 && done->result[0] == 8);
    rs_completion_free(done);
    rs_client_close(c);
    cr_expect_eq(worker_end(&w), RS_CLIENT_OK);
}

Test(client_jobs, a_future_job_does_not_start_early)
{
    struct worker w;
    worker_new(&w, "it:add", handle_add, NULL, 1);
    worker_go(&w);
    struct rs_client *c = connect_client("client-jobs-later");
    struct rs_enqueue_opts o;
    rs_enqueue_opts_init(&o);
    o.delay_ms = 1500;
    int64_t t0 = now_ms();
    uint64_t job = enqueue(c, "it:add", "\x01\x02", 2, &o);
    struct rs_completion *done = await_status(c, job, RS_JOB_SUCCESS);
    cr_expect_geq(now_ms() - t0, 1400, "ran after %lld ms", (long long)(now_ms() - t0));
    rs_completion_free(done);
    rs_client_close(c);
    cr_expect_eq(worker_end(&w), RS_CLIENT_OK);
}

Test(client_jobs, list_filters_and_pages)
{
    struct rs_client *c = connect_client("client-jobs-list");
    struct rs_enqueue_opts o;
    rs_enqueue_opts_init(&o);
    o.delay_ms = 3600000;
    uint64_t a[3];
    for (int i = 0; i < 3; i++)
        a[i] = enqueue(c, "it:list-a", NULL, 0, &o);
    for (int i = 0; i < 2; i++)
        (void)enqueue(c, "it:list-b", NULL, 0, &o);
    struct rs_job_info *j = NULL;
    cr_assert_eq(rs_cancel(c, a[0], &j), RS_CLIENT_OK);
    rs_job_info_free(j);

    struct rs_list_filter f = {.name = "it:list-a", .limit = 2};
    struct rs_job_list *l = NULL;
    cr_assert_eq(rs_list(c, &f, 0, &l), RS_CLIENT_OK, "%s", rs_client_errmsg(c));
    cr_assert_eq(l->count, 2);
    cr_expect_eq(l->jobs[0].id, a[2], "newest first");
    cr_expect_eq(l->jobs[1].id, a[1]);
    cr_assert_neq(l->next, 0);
    uint64_t next = l->next;
    rs_job_list_free(l);
    cr_assert_eq(rs_list(c, &f, next, &l), RS_CLIENT_OK, "%s", rs_client_errmsg(c));
    cr_assert_eq(l->count, 1);
    cr_expect_eq(l->jobs[0].id, a[0]);
    cr_expect_eq(l->next, 0, "last page");
    rs_job_list_free(l);

    struct rs_list_filter cancelled = {.by_status = true, .status = RS_JOB_CANCELLED};
    cr_assert_eq(rs_list(c, &cancelled, 0, &l), RS_CLIENT_OK, "%s", rs_client_errmsg(c));
    cr_assert_eq(l->count, 1);
    cr_expect_eq(l->jobs[0].id, a[0]);
    rs_job_list_free(l);
    rs_client_close(c);
}

Test(client_jobs, a_hung_attempt_times_out_and_its_handler_is_told)
{
    atomic_store(&hang_started, 0);
    atomic_store(&hang_cancelled, 0);
    struct worker w;
    worker_new(&w, "it:hang", handle_hang, NULL, 1);
    worker_go(&w);
    struct rs_client *c = connect_client("client-jobs-timeout");
    struct rs_enqueue_opts o;
    rs_enqueue_opts_init(&o);
    o.timeout_ms = 300;
    o.max_attempts = 1;
    uint64_t job = enqueue(c, "it:hang", NULL, 0, &o);
    struct rs_completion *done = await_status(c, job, RS_JOB_DEAD);
    rs_completion_free(done);
    cr_expect(wait_count(&hang_cancelled, 1), "the handler saw rs_job_cancelled");
    rs_client_close(c);
    cr_expect_eq(worker_end(&w), RS_CLIENT_OK);
}

Test(client_jobs, cancelling_a_running_job_reaches_its_handler)
{
    atomic_store(&hang_started, 0);
    atomic_store(&hang_cancelled, 0);
    struct worker w;
    worker_new(&w, "it:hang", handle_hang, NULL, 1);
    worker_go(&w);
    struct rs_client *c = connect_client("client-jobs-cancel-running");
    uint64_t job = enqueue(c, "it:hang", NULL, 0, NULL);
    cr_assert(wait_count(&hang_started, 1), "the job never started");
    struct rs_job_info *j = NULL;
    cr_assert_eq(rs_cancel(c, job, &j), RS_CLIENT_OK, "%s", rs_client_errmsg(c));
    rs_job_info_free(j);
    struct rs_completion *done = await_status(c, job, RS_JOB_CANCELLED);
    rs_completion_free(done);
    cr_expect(wait_count(&hang_cancelled, 1), "the handler saw rs_job_cancelled");
    rs_client_close(c);
    cr_expect_eq(worker_end(&w), RS_CLIENT_OK);
}

/* it:once-hang: the first attempt hangs (until its connection dies), later ones succeed. */
static int handle_once_hang(struct rs_job_ctx *job, void *user)
{
    if (rs_job_attempt(job) == 1)
        return handle_hang(job, user);
    return 0;
}

Test(client_jobs, a_worker_that_dies_mid_job_has_its_job_run_elsewhere)
{
    atomic_store(&hang_started, 0);
    atomic_store(&hang_cancelled, 0);
    struct worker dying;
    worker_new(&dying, "it:once-hang", handle_once_hang, NULL, 1);
    worker_go(&dying);
    struct rs_client *c = connect_client("client-jobs-death");
    struct rs_enqueue_opts o;
    rs_enqueue_opts_init(&o);
    o.initial_delay_ms = 0;
    uint64_t job = enqueue(c, "it:once-hang", NULL, 0, &o);
    cr_assert(wait_count(&hang_started, 1), "the job never started");
    /* The connection dies under the worker, as if its process had been killed. */
    cr_assert_eq(shutdown(rs_client_fd(dying.c), SHUT_RDWR), 0);
    pthread_join(dying.thread, NULL);
    cr_expect_eq(dying.result, RS_CLIENT_E_IO);
    cr_expect_eq(atomic_load(&hang_cancelled), 1, "the orphaned handler was told to stop");
    rs_client_close(dying.c);

    struct worker w;
    worker_new(&w, "it:once-hang", handle_once_hang, NULL, 1);
    worker_go(&w);
    struct rs_completion *done = await_status(c, job, RS_JOB_SUCCESS);
    cr_expect_eq(done->attempt, 2);
    rs_completion_free(done);
    rs_client_close(c);
    cr_expect_eq(worker_end(&w), RS_CLIENT_OK);
}

/* ---- durable steps: a saga whose last step fails twice ---- */

static atomic_int step_runs[3]; /* it:charge, it:reserve, it:ship */
static atomic_int saga_runs;

/* it:charge, it:reserve, it:ship (user: its index); it:ship fails for good twice. */
static int handle_step(struct rs_job_ctx *job, void *user)
{
    int i = (int)(intptr_t)user;
    int run = atomic_fetch_add(&step_runs[i], 1) + 1;
    if (i == 2 && run <= 2)
        return rs_job_set_error(job, false, "no truck (run %d)", run);
    return 0;
}

/* Enqueue name as this attempt's next step through own and await it; 0 when it succeeded. */
static int run_step(struct rs_job_ctx *job, struct rs_client *own, const char *name,
                    const void *args, size_t len)
{
    struct rs_enqueue_opts o;
    rs_enqueue_opts_init(&o);
    rs_job_step(job, &o);
    struct rs_enqueue_result r;
    struct rs_completion *done = NULL;
    int rc = 0;
    if (rs_enqueue(own, name, args, len, &o, &r) != RS_CLIENT_OK ||
        rs_job_await(job, own, r.job, AWAIT_MS, &done) != RS_CLIENT_OK)
        rc = rs_job_set_error(job, true, "step %s: %s", name, rs_client_errmsg(own));
    else if (done->status != RS_JOB_SUCCESS)
        rc =
            rs_job_set_error(job, true, "step %s ended %s", name, rs_job_status_name(done->status));
    rs_completion_free(done);
    return rc;
}

static struct rs_client *handler_client(struct rs_job_ctx *job)
{
    struct rs_client_opts opts;
    rs_client_opts_init(&opts);
    opts.name = "steps-handler";
    struct rs_client *own = NULL;
    char *err = NULL;
    if (rs_client_connect(dmn.socket, &opts, &own, &err) != RS_CLIENT_OK) {
        rs_job_set_error(job, true, "connect: %s", err != NULL ? err : "?");
        free(err);
        return NULL;
    }
    return own;
}

/* it:saga: the three steps in order, each awaited; a failed step fails the saga (retryable).
 * Enqueues and awaits through a client of its own, as a handler must. */
static int handle_saga(struct rs_job_ctx *job, void *user)
{
    static const char *const names[3] = {"it:charge", "it:reserve", "it:ship"};
    (void)user;
    atomic_fetch_add(&saga_runs, 1);
    struct rs_client *own = handler_client(job);
    if (own == NULL)
        return -1;
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = run_step(job, own, names[i], NULL, 0);
    rs_client_close(own);
    return rc;
}

/* it:gate: runs until the test opens the gate (bounded). */
static atomic_bool gate_open, gate_entered;
static int handle_gate(struct rs_job_ctx *job, void *user)
{
    (void)job;
    (void)user;
    atomic_store(&gate_entered, true);
    for (int64_t end = now_ms() + AWAIT_MS; now_ms() < end && !atomic_load(&gate_open);)
        usleep(1000);
    return 0;
}

/* A worker that stops gracefully takes no new job and spends no attempt on one it never
 * started: a job enqueued while it stops, with a single attempt, runs on the next worker. */
Test(client_jobs, a_stopping_worker_spends_no_attempt_of_a_job_it_never_started)
{
    struct rs_client *app = connect_client("client-jobs-app");
    struct worker w1;
    worker_new(&w1, "it:gate", handle_gate, NULL, 2);
    cr_assert_eq(rs_worker_register(w1.c, "it:add", handle_add, NULL), RS_CLIENT_OK);
    worker_go(&w1);
    uint64_t held = enqueue(app, "it:gate", NULL, 0, NULL);
    for (int64_t end = now_ms() + AWAIT_MS; now_ms() < end && !atomic_load(&gate_entered);)
        usleep(1000);
    cr_assert(atomic_load(&gate_entered), "it:gate never started");
    /* One slot is free; the worker stops while its other job still runs. */
    rs_worker_stop(w1.c);
    struct rs_enqueue_opts o;
    rs_enqueue_opts_init(&o);
    o.max_attempts = 1;
    uint64_t once = enqueue(app, "it:add", "\x02\x03", 2, &o);
    atomic_store(&gate_open, true);
    pthread_join(w1.thread, NULL);
    cr_expect_eq(w1.result, RS_CLIENT_OK, "%s", rs_client_errmsg(w1.c));
    rs_client_close(w1.c);
    rs_completion_free(await_status(app, held, RS_JOB_SUCCESS));

    struct worker w2;
    worker_new(&w2, "it:add", handle_add, NULL, 1);
    worker_go(&w2);
    struct rs_completion *done = await_status(app, once, RS_JOB_SUCCESS);
    cr_expect(done->result != NULL && done->result_len == 1 && done->result[0] == 5);
    rs_completion_free(done);
    cr_expect_eq(worker_end(&w2), RS_CLIENT_OK);
    rs_client_close(app);
}

Test(client_jobs, a_saga_reruns_only_its_failed_step_and_never_starves)
{
    for (int i = 0; i < 3; i++)
        atomic_store(&step_runs[i], 0);
    atomic_store(&saga_runs, 0);
    /* One slot for the saga and its steps: the waiting saga must lend it. */
    struct worker w;
    worker_new(&w, "it:saga", handle_saga, NULL, 1);
    cr_assert_eq(rs_worker_register(w.c, "it:charge", handle_step, (void *)0), RS_CLIENT_OK);
    cr_assert_eq(rs_worker_register(w.c, "it:reserve", handle_step, (void *)1), RS_CLIENT_OK);
    cr_assert_eq(rs_worker_register(w.c, "it:ship", handle_step, (void *)2), RS_CLIENT_OK);
    worker_go(&w);
    struct rs_client *c = connect_client("client-jobs-saga");
    struct rs_enqueue_opts o;
    rs_enqueue_opts_init(&o);
    o.max_attempts = 3;
    o.initial_delay_ms = 0;
    uint64_t saga = enqueue(c, "it:saga", NULL, 0, &o);
    rs_completion_free(await_status(c, saga, RS_JOB_SUCCESS));
    cr_expect_eq(atomic_load(&saga_runs), 3);
    cr_expect_eq(atomic_load(&step_runs[0]), 1, "charge ran %d times", atomic_load(&step_runs[0]));
    cr_expect_eq(atomic_load(&step_runs[1]), 1, "reserve ran %d times", atomic_load(&step_runs[1]));
    cr_expect_eq(atomic_load(&step_runs[2]), 3, "ship ran %d times", atomic_load(&step_runs[2]));

    /* The saga's steps, newest first, each naming its parent and position. */
    struct rs_list_filter f = {.parent = saga};
    struct rs_job_list *page = NULL;
    cr_assert_eq(rs_list(c, &f, 0, &page), RS_CLIENT_OK, "%s", rs_client_errmsg(c));
    cr_assert_eq(page->count, 3);
    for (size_t i = 0; i < 3; i++) {
        cr_expect_eq(page->jobs[i].parent, saga);
        cr_expect_eq(page->jobs[i].step, 2 - i);
        cr_expect_eq(page->jobs[i].status, RS_JOB_SUCCESS);
    }
    rs_job_list_free(page);
    rs_client_close(c);
    cr_expect_eq(worker_end(&w), RS_CLIENT_OK);
}

/* ---- steps at scale: many sagas on two slots, a fan-out whose parent is retried ---- */

/* Counts its runs in the atomic_int user points to. */
static int handle_count(struct rs_job_ctx *job, void *user)
{
    (void)job;
    atomic_fetch_add((atomic_int *)user, 1);
    return 0;
}

/* it:saga3: it:a, it:b, it:c in order. */
static int handle_saga3(struct rs_job_ctx *job, void *user)
{
    (void)user;
    struct rs_client *own = handler_client(job);
    if (own == NULL)
        return -1;
    int rc = run_step(job, own, "it:a", NULL, 0);
    if (rc == 0)
        rc = run_step(job, own, "it:b", NULL, 0);
    if (rc == 0)
        rc = run_step(job, own, "it:c", NULL, 0);
    rs_client_close(own);
    return rc;
}

#define FANOUT 100
static atomic_int thumb_runs[FANOUT];
static atomic_int album_runs;

/* it:thumb: args are two bytes, the index. */
static int handle_thumb(struct rs_job_ctx *job, void *user)
{
    (void)user;
    size_t len;
    const uint8_t *a = rs_job_args(job, &len);
    if (len != 2 || (a[0] << 8 | a[1]) >= FANOUT)
        return rs_job_set_error(job, false, "bad thumb args");
    atomic_fetch_add(&thumb_runs[a[0] << 8 | a[1]], 1);
    return 0;
}

/* it:album: FANOUT thumbnails as steps, all enqueued, then all awaited; the first run then
 * fails, so that the retry has to find every step done. */
static int handle_album(struct rs_job_ctx *job, void *user)
{
    (void)user;
    int run = atomic_fetch_add(&album_runs, 1) + 1;
    struct rs_client *own = handler_client(job);
    if (own == NULL)
        return -1;
    uint64_t ids[FANOUT];
    int rc = 0;
    for (int i = 0; i < FANOUT && rc == 0; i++) {
        uint8_t args[2] = {(uint8_t)(i >> 8), (uint8_t)i};
        struct rs_enqueue_opts o;
        rs_enqueue_opts_init(&o);
        rs_job_step(job, &o);
        struct rs_enqueue_result r;
        if (rs_enqueue(own, "it:thumb", args, 2, &o, &r) != RS_CLIENT_OK)
            rc = rs_job_set_error(job, true, "thumb %d: %s", i, rs_client_errmsg(own));
        ids[i] = r.job;
    }
    for (int i = 0; i < FANOUT && rc == 0; i++) {
        struct rs_completion *done = NULL;
        if (rs_job_await(job, own, ids[i], AWAIT_MS, &done) != RS_CLIENT_OK ||
            done->status != RS_JOB_SUCCESS)
            rc = rs_job_set_error(job, true, "thumb %d did not succeed", i);
        rs_completion_free(done);
    }
    rs_client_close(own);
    if (rc == 0 && run == 1)
        return rs_job_set_error(job, true, "the album fails once after its thumbnails");
    return rc;
}

Test(client_jobs, twenty_sagas_on_two_slots_all_finish_each_step_once)
{
    static atomic_int a, b, c;
    atomic_store(&a, 0);
    atomic_store(&b, 0);
    atomic_store(&c, 0);
    struct worker w;
    worker_new(&w, "it:saga3", handle_saga3, NULL, 2);
    cr_assert_eq(rs_worker_register(w.c, "it:a", handle_count, &a), RS_CLIENT_OK);
    cr_assert_eq(rs_worker_register(w.c, "it:b", handle_count, &b), RS_CLIENT_OK);
    cr_assert_eq(rs_worker_register(w.c, "it:c", handle_count, &c), RS_CLIENT_OK);
    worker_go(&w);
    struct rs_client *p = connect_client("client-jobs-sagas");
    enum { N = 20 };
    uint64_t sagas[N];
    for (int i = 0; i < N; i++)
        sagas[i] = enqueue(p, "it:saga3", NULL, 0, NULL);
    for (int i = 0; i < N; i++)
        rs_completion_free(await_status(p, sagas[i], RS_JOB_SUCCESS));
    cr_expect_eq(atomic_load(&a), N);
    cr_expect_eq(atomic_load(&b), N);
    cr_expect_eq(atomic_load(&c), N);
    rs_client_close(p);
    cr_expect_eq(worker_end(&w), RS_CLIENT_OK);
}

Test(client_jobs, a_fan_out_of_100_steps_is_not_run_again_by_its_parents_retry)
{
    for (int i = 0; i < FANOUT; i++)
        atomic_store(&thumb_runs[i], 0);
    atomic_store(&album_runs, 0);
    struct worker w;
    worker_new(&w, "it:album", handle_album, NULL, 1);
    cr_assert_eq(rs_worker_register(w.c, "it:thumb", handle_thumb, NULL), RS_CLIENT_OK);
    worker_go(&w);
    struct rs_client *p = connect_client("client-jobs-fanout");
    struct rs_enqueue_opts o;
    rs_enqueue_opts_init(&o);
    o.initial_delay_ms = 0;
    uint64_t album = enqueue(p, "it:album", NULL, 0, &o);
    rs_completion_free(await_status(p, album, RS_JOB_SUCCESS));
    cr_expect_eq(atomic_load(&album_runs), 2);
    for (int i = 0; i < FANOUT; i++)
        cr_expect_eq(atomic_load(&thumb_runs[i]), 1, "thumbnail %d ran %d times", i,
                     atomic_load(&thumb_runs[i]));
    rs_client_close(p);
    cr_expect_eq(worker_end(&w), RS_CLIENT_OK);
}
