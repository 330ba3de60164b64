/*
 * libreseolio's worker against a fake daemon: REGISTER, handlers on the pool up to the
 * concurrency, an ACK per outcome, ABANDON as rs_job_cancelled, jobs dispatched during a
 * blocking call kept for the next rs_worker_run, and rs_worker_stop from a signal handler.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clienttest.h"

static struct rs_client *client; /* for handlers that stop the worker */

/* Monotonic ms. */
static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Spin (politely) until flag is set or 10 s passed. */
static bool wait_flag(atomic_bool *flag)
{
    for (int64_t end = now_ms() + FP_TIMEOUT_MS; now_ms() < end;) {
        if (atomic_load(flag))
            return true;
        usleep(1000);
    }
    return false;
}

/* t:stop: asks the worker to stop and succeeds. */
static int handle_stop(struct rs_job_ctx *job, void *user)
{
    (void)job;
    (void)user;
    rs_worker_stop(client);
    return 0;
}

static bool str_is(struct rs_str s, const char *want)
{
    return s.ptr != NULL && s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

/* Expect REGISTER with n names and concurrency, answer OK. */
static bool expect_register(struct fakepeer *p, uint32_t n, uint64_t concurrency)
{
    struct fp_msg m;
    if (!fp_expect(p, RS_MSG_REGISTER, &m))
        return false;
    bool ok = fp_check(p, m.m.u.reg.nnames == n, "REGISTER has %u names", m.m.u.reg.nnames) &&
              fp_check(p, m.m.u.reg.concurrency == concurrency, "REGISTER concurrency %llu",
                       (unsigned long long)m.m.u.reg.concurrency);
    fp_send_empty(p, RS_MSG_OK, m.m.request_id);
    fp_msg_free(&m);
    return ok;
}

/* Expect the ACK of job, answer OK; out gets a copy of its fields. */
static bool expect_ack(struct fakepeer *p, uint64_t job, struct rs_ack *out)
{
    struct fp_msg m;
    if (!fp_expect(p, RS_MSG_ACK, &m))
        return false;
    bool ok = fp_check(p, m.m.u.ack.job == job, "ACK of job %llu, expected %llu",
                       (unsigned long long)m.m.u.ack.job, (unsigned long long)job);
    if (out != NULL)
        *out = m.m.u.ack;
    fp_send_empty(p, RS_MSG_OK, m.m.request_id);
    fp_msg_free(&m);
    return ok;
}

/* A stopping worker's REGISTER with concurrency 0 (no more DISPATCH, please) and, when job is
 * not 0, the ACK of job, in either order; answer OK to both. */
static bool expect_drain(struct fakepeer *p, uint64_t job)
{
    bool drained = false, acked = job == 0;
    while (!drained || !acked) {
        struct fp_msg m;
        if (!fp_check(p, fp_recv(p, &m) == 1, "no REGISTER 0 or ACK from the stopping worker"))
            return false;
        bool ok;
        if (m.m.type == RS_MSG_REGISTER && !drained) {
            ok = fp_check(p, m.m.u.reg.concurrency == 0, "the stop's REGISTER concurrency %llu",
                          (unsigned long long)m.m.u.reg.concurrency);
            drained = true;
        } else if (m.m.type == RS_MSG_ACK && !acked) {
            ok = fp_check(p, m.m.u.ack.job == job, "ACK of job %llu, expected %llu",
                          (unsigned long long)m.m.u.ack.job, (unsigned long long)job);
            acked = true;
        } else {
            ok = fp_check(p, false, "unexpected %s while the worker stops",
                          rs_msg_type_name(m.m.type));
        }
        fp_send_empty(p, RS_MSG_OK, m.m.request_id);
        fp_msg_free(&m);
        if (!ok)
            return false;
    }
    return true;
}

/* Dispatch t:stop as job 999 and take its ACK and the drain: the end of a script's worker run. */
static void stop_worker(struct fakepeer *p)
{
    fp_send_dispatch(p, 999, "t:stop", NULL, 0, 1);
    expect_drain(p, 999);
}

/* ---- concurrency, outcomes, ACKs ---- */

static pthread_mutex_t meet_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t meet_cv = PTHREAD_COND_INITIALIZER;
static int meet_inside;
static atomic_int met_both;

/* Wait (bounded) until two handlers are inside at once: proof they run concurrently. */
static void meet(void)
{
    pthread_mutex_lock(&meet_mu);
    meet_inside++;
    pthread_cond_broadcast(&meet_cv);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    while (meet_inside < 2)
        if (pthread_cond_timedwait(&meet_cv, &meet_mu, &until) != 0)
            break;
    if (meet_inside >= 2)
        atomic_fetch_add(&met_both, 1);
    pthread_mutex_unlock(&meet_mu);
}

static int handle_add(struct rs_job_ctx *job, void *user)
{
    cr_expect_str_eq(user, "add-user");
    cr_expect_str_eq(rs_job_name(job), "t:add");
    cr_expect_eq(rs_job_id(job), 1);
    cr_expect_eq(rs_job_attempt(job), 2);
    cr_expect_eq(rs_job_max_attempts(job), 3);
    cr_expect_eq(rs_job_deadline(job), 1700000030000);
    size_t len;
    const uint8_t *a = rs_job_args(job, &len);
    meet();
    if (len != 3 || a[0] != 0x92)
        return rs_job_set_error(job, false, "bad args");
    uint8_t sum = (uint8_t)(a[1] + a[2]);
    return rs_job_set_result(job, &sum, 1) == RS_CLIENT_OK ? 0 : -1;
}

static int handle_fail(struct rs_job_ctx *job, void *user)
{
    (void)user;
    meet();
    return rs_job_set_error(job, false, "bad %s bytes", "\xff\xfe");
}

static int handle_silent_fail(struct rs_job_ctx *job, void *user)
{
    (void)job;
    (void)user;
    return 7;
}

static void script_concurrent(struct fakepeer *p, void *arg)
{
    (void)arg;
    if (!expect_register(p, 4, 2))
        return;
    fp_send_dispatch(p, 1, "t:add", "\x92\x02\x03", 3, 2);
    fp_send_dispatch(p, 2, "t:fail", NULL, 0, 1);
    struct rs_ack acks[2];
    for (int i = 0; i < 2; i++) {
        struct fp_msg m;
        if (!fp_expect(p, RS_MSG_ACK, &m))
            return;
        struct rs_ack *a = &acks[m.m.u.ack.job == 1 ? 0 : 1];
        *a = m.m.u.ack;
        if (a->job == 1) {
            fp_check(p, a->attempt == 2, "ACK repeats the attempt");
            fp_check(p, a->ok && a->result.len == 1 && a->result.ptr[0] == 5, "ACK of t:add");
            fp_send_empty(p, RS_MSG_OK, m.m.request_id);
        } else {
            fp_check(p, !a->ok && str_is(a->error, "bad ?? bytes"), "ACK of t:fail: '%.*s'",
                     (int)a->error.len, a->error.ptr);
            fp_check(p, (a->has & RS_HAS_RETRYABLE) && !a->retryable, "non-retryable");
            /* A stale ACK is answered with ERROR: the worker shrugs and goes on. */
            fp_send_error(p, m.m.request_id, "stale_attempt", "attempt 1 of job 2 is over", false);
        }
        fp_msg_free(&m);
    }
    fp_send_dispatch(p, 3, "t:silent", NULL, 0, 1);
    struct rs_ack a;
    if (expect_ack(p, 3, &a))
        fp_check(p, !a.ok && a.retryable, "a bare non-zero return is a retryable failure");
    stop_worker(p);
    fp_wait_closed(p);
}

Test(worker, handlers_run_concurrently_and_every_outcome_is_acked)
{
    struct fakepeer p;
    client = ct_connect(&p, script_concurrent, NULL, 0, 0);
    cr_assert_eq(rs_worker_register(client, "t:add", handle_add, "add-user"), RS_CLIENT_OK);
    cr_assert_eq(rs_worker_register(client, "t:fail", handle_fail, NULL), RS_CLIENT_OK);
    cr_assert_eq(rs_worker_register(client, "t:silent", handle_silent_fail, NULL), RS_CLIENT_OK);
    cr_assert_eq(rs_worker_register(client, "t:stop", handle_stop, NULL), RS_CLIENT_OK);
    cr_assert_eq(rs_worker_set_concurrency(client, 2), RS_CLIENT_OK);
    cr_expect_eq(rs_worker_run(client), RS_CLIENT_OK, "%s", rs_client_errmsg(client));
    cr_expect_eq(atomic_load(&met_both), 2, "both handlers were inside at the same time");
    rs_client_close(client);
    ct_finish(&p);
}

/* ---- ABANDON ---- */

static atomic_bool slow_started, slow_saw_cancel, never_ran;

/* t:slow: runs until the daemon abandons it. */
static int handle_slow(struct rs_job_ctx *job, void *user)
{
    (void)user;
    atomic_store(&slow_started, true);
    for (int64_t end = now_ms() + FP_TIMEOUT_MS; now_ms() < end;) {
        if (rs_job_cancelled(job)) {
            atomic_store(&slow_saw_cancel, true);
            return rs_job_set_error(job, true, "cancelled");
        }
        usleep(1000);
    }
    return 0;
}

static int handle_never(struct rs_job_ctx *job, void *user)
{
    (void)job;
    (void)user;
    atomic_store(&never_ran, true);
    return 0;
}

static void script_abandon(struct fakepeer *p, void *arg)
{
    (void)arg;
    if (!expect_register(p, 3, 1))
        return;
    fp_send_dispatch(p, 1, "t:slow", NULL, 0, 1);
    if (!fp_check(p, wait_flag(&slow_started), "t:slow never started"))
        return;
    /* Job 2 waits for the only thread; abandoned before it starts, it must never run. */
    fp_send_dispatch(p, 2, "t:never", NULL, 0, 1);
    fp_send_abandon(p, 2, 1);
    fp_send_abandon(p, 1, 7); /* another attempt: not this one */
    fp_send_abandon(p, 1, 1);
    /* No ACK for abandoned attempts: the next ACK must be t:stop's. */
    stop_worker(p);
    fp_wait_closed(p);
}

Test(worker, abandon_cancels_a_running_attempt_and_drops_a_queued_one)
{
    struct fakepeer p;
    client = ct_connect(&p, script_abandon, NULL, 0, 0);
    cr_assert_eq(rs_worker_register(client, "t:slow", handle_slow, NULL), RS_CLIENT_OK);
    cr_assert_eq(rs_worker_register(client, "t:never", handle_never, NULL), RS_CLIENT_OK);
    cr_assert_eq(rs_worker_register(client, "t:stop", handle_stop, NULL), RS_CLIENT_OK);
    cr_expect_eq(rs_worker_run(client), RS_CLIENT_OK, "%s", rs_client_errmsg(client));
    cr_expect(atomic_load(&slow_saw_cancel));
    cr_expect_not(atomic_load(&never_ran));
    rs_client_close(client);
    ct_finish(&p);
}

/* ---- DISPATCH during a blocking call ---- */

static atomic_int adds;
static int handle_count(struct rs_job_ctx *job, void *user)
{
    (void)job;
    (void)user;
    atomic_fetch_add(&adds, 1);
    return 0;
}

static void script_queued(struct fakepeer *p, void *arg)
{
    (void)arg;
    if (!expect_register(p, 2, 1))
        return;
    stop_worker(p);
    /* Between runs: a GET, and a DISPATCH that arrives before its reply. */
    struct fp_msg m;
    if (!fp_expect(p, RS_MSG_GET, &m))
        return;
    fp_send_dispatch(p, 2, "t:count", NULL, 0, 1);
    fp_send_job(p, m.m.request_id, 7, "t:other", RS_STATUS_RUNNING);
    fp_msg_free(&m);
    /* The second run registers its concurrency again (the stop drained it) and runs job 2. */
    if (!expect_register(p, 2, 1))
        return;
    expect_ack(p, 2, NULL);
    stop_worker(p);
    fp_wait_closed(p);
}

Test(worker, a_dispatch_during_a_blocking_call_is_kept_for_the_next_run)
{
    struct fakepeer p;
    client = ct_connect(&p, script_queued, NULL, 0, 0);
    cr_assert_eq(rs_worker_register(client, "t:count", handle_count, NULL), RS_CLIENT_OK);
    cr_assert_eq(rs_worker_register(client, "t:stop", handle_stop, NULL), RS_CLIENT_OK);
    cr_assert_eq(rs_worker_run(client), RS_CLIENT_OK, "%s", rs_client_errmsg(client));
    struct rs_job_info *j = NULL;
    cr_assert_eq(rs_get(client, 7, &j), RS_CLIENT_OK, "%s", rs_client_errmsg(client));
    cr_expect_eq(j->id, 7);
    rs_job_info_free(j);
    cr_expect_eq(atomic_load(&adds), 0, "no handler runs outside rs_worker_run");
    cr_assert_eq(rs_worker_run(client), RS_CLIENT_OK, "%s", rs_client_errmsg(client));
    cr_expect_eq(atomic_load(&adds), 1);
    rs_client_close(client);
    ct_finish(&p);
}

/* ---- stop from a signal handler, gracefully ---- */

static atomic_bool sleepy_started, sleepy_done;
static int handle_sleepy(struct rs_job_ctx *job, void *user)
{
    (void)user;
    atomic_store(&sleepy_started, true);
    usleep(300 * 1000);
    atomic_store(&sleepy_done, true);
    return rs_job_set_result(job, "\xc3", 1) == RS_CLIENT_OK ? 0 : -1;
}

static void on_sigusr1(int sig)
{
    (void)sig;
    rs_worker_stop(client);
}

static void script_signal(struct fakepeer *p, void *arg)
{
    (void)arg;
    if (!expect_register(p, 1, 1))
        return;
    fp_send_dispatch(p, 1, "t:sleepy", NULL, 0, 1);
    if (!fp_check(p, wait_flag(&sleepy_started), "t:sleepy never started"))
        return;
    kill(getpid(), SIGUSR1); /* this thread blocks it: it lands on the test's thread */
    expect_drain(p, 1);      /* the job's ACK (ok) and the stop's REGISTER 0 */
    fp_wait_closed(p);
}

Test(worker, stop_from_a_signal_handler_lets_running_jobs_finish)
{
    struct fakepeer p;
    client = ct_connect(&p, script_signal, NULL, 0, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
    cr_assert_eq(rs_worker_register(client, "t:sleepy", handle_sleepy, NULL), RS_CLIENT_OK);
    cr_expect_eq(rs_worker_run(client), RS_CLIENT_OK, "%s", rs_client_errmsg(client));
    cr_expect(atomic_load(&sleepy_done), "rs_worker_run returned before the job finished");
    rs_client_close(client);
    ct_finish(&p);
}

/* ---- a stop hands back what was dispatched but not started ---- */

static void script_stop_hands_back(struct fakepeer *p, void *arg)
{
    (void)arg;
    if (!expect_register(p, 2, 1))
        return;
    fp_send_dispatch(p, 1, "t:sleepy", NULL, 0, 1);
    if (!fp_check(p, wait_flag(&sleepy_started), "t:sleepy never started"))
        return;
    rs_worker_stop(client);
    struct fp_msg reg;
    if (!fp_expect(p, RS_MSG_REGISTER, &reg))
        return;
    fp_check(p, reg.m.u.reg.concurrency == 0, "the stop drains: REGISTER concurrency 0");
    /* Sent before the daemon read that REGISTER: it waits behind t:sleepy for the one thread,
     * and must go back unstarted and uncounted. */
    fp_send_dispatch(p, 5, "t:count", NULL, 0, 1);
    struct fp_msg m;
    if (fp_expect(p, RS_MSG_ACK, &m)) {
        const struct rs_ack *a = &m.m.u.ack;
        fp_check(p, a->job == 5 && (a->has & RS_HAS_RELEASE) && a->release && !a->ok,
                 "job 5 was not handed back (ACK of job %llu)", (unsigned long long)a->job);
        fp_send_empty(p, RS_MSG_OK, m.m.request_id);
        fp_msg_free(&m);
    }
    fp_send_empty(p, RS_MSG_OK, reg.m.request_id);
    fp_msg_free(&reg);
    struct rs_ack a;
    if (expect_ack(p, 1, &a))
        fp_check(p, a.ok, "the running job finished normally");
    fp_wait_closed(p);
}

Test(worker, a_stop_hands_back_jobs_dispatched_but_not_started)
{
    struct fakepeer p;
    atomic_store(&sleepy_started, false);
    atomic_store(&sleepy_done, false);
    atomic_store(&adds, 0);
    client = ct_connect(&p, script_stop_hands_back, NULL, 0, 0);
    cr_assert_eq(rs_worker_register(client, "t:sleepy", handle_sleepy, NULL), RS_CLIENT_OK);
    cr_assert_eq(rs_worker_register(client, "t:count", handle_count, NULL), RS_CLIENT_OK);
    cr_expect_eq(rs_worker_run(client), RS_CLIENT_OK, "%s", rs_client_errmsg(client));
    cr_expect(atomic_load(&sleepy_done), "rs_worker_run returned before the job finished");
    cr_expect_eq(atomic_load(&adds), 0, "the job dispatched during the stop ran");
    rs_client_close(client);
    ct_finish(&p);
}

/* ---- stop before run; argument checks ---- */

static void script_ping_only(struct fakepeer *p, void *arg)
{
    (void)arg;
    struct fp_msg m;
    if (!fp_expect(p, RS_MSG_PING, &m))
        return;
    fp_send_empty(p, RS_MSG_PONG, m.m.request_id);
    fp_msg_free(&m);
    fp_wait_closed(p);
}

Test(worker, stop_before_run_and_bad_arguments)
{
    struct fakepeer p;
    client = ct_connect(&p, script_ping_only, NULL, 0, 0);
    cr_expect_eq(rs_worker_run(client), RS_CLIENT_E_ARG, "no handler yet");
    cr_expect_eq(rs_worker_register(client, "", handle_stop, NULL), RS_CLIENT_E_ARG);
    cr_expect_eq(rs_worker_register(client, "t:x", NULL, NULL), RS_CLIENT_E_ARG);
    cr_assert_eq(rs_worker_register(client, "t:x", handle_stop, NULL), RS_CLIENT_OK);
    cr_expect_eq(rs_worker_register(client, "t:x", handle_stop, NULL), RS_CLIENT_E_ARG);
    cr_expect_eq(rs_worker_set_concurrency(client, 0), RS_CLIENT_E_ARG);
    cr_expect_eq(rs_worker_set_concurrency(client, 257), RS_CLIENT_E_ARG);
    rs_worker_stop(client);
    cr_expect_eq(rs_worker_run(client), RS_CLIENT_OK, "returns at once, sends nothing");
    cr_expect_eq(rs_client_ping(client), RS_CLIENT_OK, "%s", rs_client_errmsg(client));
    rs_client_close(client);
    ct_finish(&p);
}

/* ---- the connection breaks during a run ---- */

static void script_hangup_mid_job(struct fakepeer *p, void *arg)
{
    (void)arg;
    if (!expect_register(p, 1, 1))
        return;
    fp_send_dispatch(p, 1, "t:slow", NULL, 0, 1);
    if (fp_check(p, wait_flag(&slow_started), "t:slow never started"))
        fp_hangup(p);
}

Test(worker, a_lost_connection_ends_the_run_and_cancels_running_handlers)
{
    struct fakepeer p;
    atomic_store(&slow_started, false);
    atomic_store(&slow_saw_cancel, false);
    client = ct_connect(&p, script_hangup_mid_job, NULL, 0, 0);
    cr_assert_eq(rs_worker_register(client, "t:slow", handle_slow, NULL), RS_CLIENT_OK);
    cr_expect_eq(rs_worker_run(client), RS_CLIENT_E_IO);
    cr_expect(atomic_load(&slow_saw_cancel), "the handler was told to stop");
    rs_client_close(client);
    ct_finish(&p);
}

/* ---- handing an attempt back: by its handler, or at the stop timeout ---- */

static int handle_give_up(struct rs_job_ctx *job, void *user)
{
    (void)user;
    (void)rs_job_set_error(job, false, "not sent: a release carries no outcome");
    return rs_job_release(job);
}

static void script_release(struct fakepeer *p, void *arg)
{
    (void)arg;
    if (!expect_register(p, 2, 1))
        return;
    fp_send_dispatch(p, 1, "t:give-up", NULL, 0, 1);
    struct fp_msg m;
    if (fp_expect(p, RS_MSG_ACK, &m)) {
        const struct rs_ack *a = &m.m.u.ack;
        fp_check(p, a->job == 1 && a->attempt == 1, "ACK of job 1 attempt 1");
        fp_check(p, (a->has & RS_HAS_RELEASE) && a->release && !a->ok, "a release");
        fp_check(p, a->error.ptr == NULL && a->result.ptr == NULL && !(a->has & RS_HAS_RETRYABLE),
                 "a release with an outcome");
        fp_send_empty(p, RS_MSG_OK, m.m.request_id);
        fp_msg_free(&m);
    }
    stop_worker(p);
    fp_wait_closed(p);
}

Test(worker, a_handler_hands_its_attempt_back_with_rs_job_release)
{
    struct fakepeer p;
    client = ct_connect(&p, script_release, NULL, 0, 0);
    cr_assert_eq(rs_worker_register(client, "t:give-up", handle_give_up, NULL), RS_CLIENT_OK);
    cr_assert_eq(rs_worker_register(client, "t:stop", handle_stop, NULL), RS_CLIENT_OK);
    cr_expect_eq(rs_worker_run(client), RS_CLIENT_OK, "%s", rs_client_errmsg(client));
    rs_client_close(client);
    ct_finish(&p);
}

static void script_stop_timeout(struct fakepeer *p, void *arg)
{
    (void)arg;
    if (!expect_register(p, 2, 2))
        return;
    fp_send_dispatch(p, 1, "t:slow", NULL, 0, 1);
    if (!fp_check(p, wait_flag(&slow_started), "t:slow never started"))
        return;
    stop_worker(p);
    /* t:slow outlasts the stop timeout: it is handed back, not failed. */
    struct fp_msg m;
    if (fp_expect(p, RS_MSG_ACK, &m)) {
        const struct rs_ack *a = &m.m.u.ack;
        fp_check(p, a->job == 1 && (a->has & RS_HAS_RELEASE) && a->release && !a->ok,
                 "the running attempt was not handed back");
        fp_send_empty(p, RS_MSG_OK, m.m.request_id);
        fp_msg_free(&m);
    }
    /* Its handler's late outcome is dropped: nothing more comes before the client closes. */
    int r = fp_recv(p, &m);
    if (r == 1)
        fp_msg_free(&m);
    fp_check(p, r == 0, "a message after the hand-back (the dropped outcome?)");
}

Test(worker, a_stop_timeout_hands_back_what_still_runs)
{
    struct fakepeer p;
    atomic_store(&slow_started, false);
    atomic_store(&slow_saw_cancel, false);
    client = ct_connect(&p, script_stop_timeout, NULL, 0, 0);
    cr_assert_eq(rs_worker_register(client, "t:slow", handle_slow, NULL), RS_CLIENT_OK);
    cr_assert_eq(rs_worker_register(client, "t:stop", handle_stop, NULL), RS_CLIENT_OK);
    cr_assert_eq(rs_worker_set_concurrency(client, 2), RS_CLIENT_OK);
    cr_assert_eq(rs_worker_set_stop_timeout(client, 100), RS_CLIENT_OK);
    int64_t t0 = now_ms();
    cr_expect_eq(rs_worker_run(client), RS_CLIENT_OK, "%s", rs_client_errmsg(client));
    cr_expect_geq(now_ms() - t0, 100, "the handler got less than its stop timeout");
    cr_expect(atomic_load(&slow_saw_cancel), "the handler was not told to stop");
    rs_client_close(client);
    ct_finish(&p);
}

/* ---- a result too large for a frame ---- */

static int handle_huge(struct rs_job_ctx *job, void *user)
{
    (void)user;
    size_t n = 2u * 1024 * 1024;
    void *big = calloc(1, n);
    enum rs_client_status st = rs_job_set_result(job, big, n);
    free(big);
    return st == RS_CLIENT_OK ? 0 : -1;
}

static void script_huge(struct fakepeer *p, void *arg)
{
    (void)arg;
    if (!expect_register(p, 2, 1))
        return;
    fp_send_dispatch(p, 1, "t:huge", NULL, 0, 1);
    struct fp_msg m;
    if (fp_expect(p, RS_MSG_ACK, &m)) {
        const struct rs_ack *a = &m.m.u.ack;
        fp_check(p, !a->ok && !a->retryable, "a result that cannot be sent fails for good");
        fp_check(p, a->error.len > 0 && memmem(a->error.ptr, a->error.len, "frame limit", 11),
                 "the error says why");
        fp_send_empty(p, RS_MSG_OK, m.m.request_id);
        fp_msg_free(&m);
    }
    stop_worker(p);
    fp_wait_closed(p);
}

Test(worker, a_result_larger_than_a_frame_is_a_failure)
{
    struct fakepeer p;
    client = ct_connect(&p, script_huge, NULL, 0, 0);
    cr_assert_eq(rs_worker_register(client, "t:huge", handle_huge, NULL), RS_CLIENT_OK);
    cr_assert_eq(rs_worker_register(client, "t:stop", handle_stop, NULL), RS_CLIENT_OK);
    cr_expect_eq(rs_worker_run(client), RS_CLIENT_OK, "%s", rs_client_errmsg(client));
    rs_client_close(client);
    ct_finish(&p);
}
