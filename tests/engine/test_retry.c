/*
 * Failure handling through the real daemon: each backoff policy with its delays measured,
 * dead after max attempts and after a non-retryable error, and the timeout of a hung attempt.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "fixture.h"

#define T 10000

static struct fixture fx;

static void stop(void)
{
    fx_stop(&fx);
}

/* Enqueue name with a policy, no jitter. */
static int64_t enqueue_policy(struct ec *c, const char *name, const char *backoff,
                              uint64_t initial_ms, uint64_t max_attempts, uint64_t timeout_ms)
{
    struct rs_enqueue e;
    memset(&e, 0, sizeof(e));
    e.name = (struct rs_str){name, (uint32_t)strlen(name)};
    e.has_backoff = true;
    e.backoff = (enum rs_backoff)rs_backoff_parse(backoff, strlen(backoff));
    e.has |= RS_HAS_INITIAL_DELAY | RS_HAS_JITTER | RS_HAS_MAX_ATTEMPTS | RS_HAS_MAX_DELAY;
    e.initial_delay_ms = initial_ms;
    e.max_delay_ms = 60000;
    e.jitter = 0;
    e.max_attempts = max_attempts;
    if (timeout_ms > 0) {
        e.has |= RS_HAS_TIMEOUT;
        e.timeout_ms = timeout_ms;
    }
    return ec_enqueue(c, &e, NULL, NULL, 0);
}

/* Fail every attempt; check the gaps between DISPATCHes against expect[] (ms). */
static void run_policy(const char *policy, const int64_t *expect, int nretries)
{
    fx_start(&fx, policy, NULL);
    struct ec app, worker;
    fx_client(&fx, &app);
    fx_client(&fx, &worker);
    cr_assert_eq(ec_register(&worker, policy, 1), 0);
    int64_t id = enqueue_policy(&app, policy, policy, 150, (uint64_t)nretries + 1, 0);
    cr_assert_gt(id, 0);
    struct wire_reply d;
    int64_t last = 0;
    for (int attempt = 1; attempt <= nretries + 1; attempt++) {
        for (;;) {
            cr_assert_eq(ec_next(&worker, RS_MSG_DISPATCH, T, &d), 0, "no attempt %d", attempt);
            if (d.msg.u.dispatch.job == (uint64_t)id)
                break;
            cr_assert_eq(ec_ack(&worker, d.msg.u.dispatch.job, d.msg.u.dispatch.attempt, true, NULL,
                                false, NULL, 0),
                         0);
            wire_reply_free(&d);
        }
        int64_t now = ec_now_ms();
        cr_expect_eq(d.msg.u.dispatch.attempt, (uint64_t)attempt);
        wire_reply_free(&d);
        if (attempt > 1) {
            int64_t gap = now - last, want = expect[attempt - 2];
            cr_expect(gap >= want - 10 && gap <= want + 400,
                      "%s: attempt %d came %lld ms after the failure, expected %lld", policy,
                      attempt, (long long)gap, (long long)want);
        }
        char err[32];
        /* Measure from before the ACK: the retry is due its delay after the commit, which
         * comes after the send but may come long before the reply reaches a busy test. */
        last = ec_now_ms();
        cr_assert_eq(
            ec_ack(&worker, (uint64_t)id, (uint64_t)attempt, false, "fail", true, err, sizeof(err)),
            0, "%s", err);
    }
    /* Out of attempts: dead, with the last error. */
    struct wire_reply r;
    cr_assert_eq(ec_call(&app, RS_MSG_AWAIT, (uint64_t)id, T, &r), 0);
    cr_expect_eq(r.msg.type, RS_MSG_COMPLETED);
    cr_expect_eq(r.msg.u.completed.status, RS_STATUS_DEAD);
    cr_expect_eq(r.msg.u.completed.attempt, (uint64_t)nretries + 1);
    wire_reply_free(&r);
    ec_close(&app);
    ec_close(&worker);
}

Test(retry, fixed_backoff, .fini = stop)
{
    const int64_t expect[] = {150, 150, 150};
    run_policy("fixed", expect, 3);
}

Test(retry, linear_backoff, .fini = stop)
{
    const int64_t expect[] = {150, 300, 450};
    run_policy("linear", expect, 3);
}

Test(retry, exponential_backoff, .fini = stop)
{
    const int64_t expect[] = {150, 300, 600};
    run_policy("exponential", expect, 3);
}

Test(retry, non_retryable_error_is_dead_at_once, .fini = stop)
{
    fx_start(&fx, "nonretry", NULL);
    struct ec app, worker;
    fx_client(&fx, &app);
    fx_client(&fx, &worker);
    cr_assert_eq(ec_register(&worker, "nr", 1), 0);
    int64_t id = enqueue_policy(&app, "nr", "fixed", 10, 5, 0);
    struct wire_reply d, r;
    cr_assert_eq(ec_next(&worker, RS_MSG_DISPATCH, T, &d), 0);
    wire_reply_free(&d);
    cr_assert_eq(ec_ack(&worker, (uint64_t)id, 1, false, "bad input", false, NULL, 0), 0);
    cr_assert_eq(ec_call(&app, RS_MSG_GET, (uint64_t)id, T, &r), 0);
    cr_expect_eq(r.msg.u.job.status, RS_STATUS_DEAD);
    cr_expect_eq(r.msg.u.job.attempt, 1);
    cr_expect(r.msg.u.job.error.len == 9 && memcmp(r.msg.u.job.error.ptr, "bad input", 9) == 0);
    wire_reply_free(&r);
    cr_expect(ec_none(&worker, RS_MSG_DISPATCH, 300), "a dead job ran again");
    ec_close(&app);
    ec_close(&worker);
}

Test(retry, hung_attempt_times_out_is_abandoned_and_retried, .fini = stop)
{
    fx_start(&fx, "timeout", NULL);
    struct ec app, worker;
    fx_client(&fx, &app);
    fx_client(&fx, &worker);
    cr_assert_eq(ec_register(&worker, "hang", 1), 0);
    int64_t id = enqueue_policy(&app, "hang", "fixed", 50, 3, 300);
    struct wire_reply d;
    cr_assert_eq(ec_next(&worker, RS_MSG_DISPATCH, T, &d), 0);
    int64_t t0 = ec_now_ms();
    cr_expect_eq(d.msg.u.dispatch.attempt, 1);
    wire_reply_free(&d);
    /* The worker hangs: ABANDON timeout after about 300 ms. */
    cr_assert_eq(ec_next(&worker, RS_MSG_ABANDON, T, &d), 0, "no ABANDON for a hung attempt");
    int64_t waited = ec_now_ms() - t0;
    cr_expect_eq(d.msg.u.abandon.job, (uint64_t)id);
    cr_expect_eq(d.msg.u.abandon.attempt, 1);
    cr_expect_eq(d.msg.u.abandon.reason, RS_ABANDON_TIMEOUT);
    cr_expect(waited >= 280 && waited <= 1500, "ABANDON after %lld ms", (long long)waited);
    wire_reply_free(&d);
    /* The attempt counted as failed: attempt 2 comes after the backoff and succeeds. */
    cr_assert_eq(ec_next(&worker, RS_MSG_DISPATCH, T, &d), 0, "the timed-out job did not retry");
    cr_expect_eq(d.msg.u.dispatch.job, (uint64_t)id);
    cr_expect_eq(d.msg.u.dispatch.attempt, 2);
    wire_reply_free(&d);
    char code[32];
    cr_expect_eq(ec_ack(&worker, (uint64_t)id, 1, true, "late", false, code, sizeof(code)), -1);
    cr_expect_str_eq(code, "stale_attempt");
    cr_assert_eq(ec_ack(&worker, (uint64_t)id, 2, true, "ok", false, NULL, 0), 0);
    struct wire_reply r;
    cr_assert_eq(ec_call(&app, RS_MSG_AWAIT, (uint64_t)id, T, &r), 0);
    cr_expect_eq(r.msg.u.completed.status, RS_STATUS_SUCCESS);
    cr_expect_eq(r.msg.u.completed.attempt, 2);
    cr_expect(r.msg.u.completed.result.len == 2 &&
              memcmp(r.msg.u.completed.result.ptr, "ok", 2) == 0);
    wire_reply_free(&r);
    ec_close(&app);
    ec_close(&worker);
}
