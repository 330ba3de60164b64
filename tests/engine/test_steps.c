/*
 * Durable steps through the wire: a step's identity comes from its parent and position, a
 * retried parent finds its steps (a succeeded one is not run again, a dead one is run again),
 * a job waiting for its step lends its slot so the step can run, JOB and LIST show the
 * family, and cancelling a parent cancels its pending steps. (Malformed step fields are protocol
 * vectors, replayed against the daemon by daemon-frames.)
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"

#define T 10000

static struct fixture fx;

static void stop(void)
{
    fx_stop(&fx);
}

/* ENQUEUE name as step `step` of parent; returns the job id. */
static int64_t enqueue_step(struct ec *c, const char *name, int64_t parent, uint64_t step,
                            bool *dedup)
{
    struct rs_enqueue e;
    memset(&e, 0, sizeof(e));
    e.name = (struct rs_str){name, (uint32_t)strlen(name)};
    e.has = RS_HAS_PARENT | RS_HAS_STEP | RS_HAS_MAX_ATTEMPTS;
    e.parent = (uint64_t)parent;
    e.step = step;
    e.max_attempts = 1;
    char err[64] = "";
    int64_t id = ec_enqueue(c, &e, dedup, err, sizeof(err));
    cr_assert_gt(id, 0, "step enqueue failed: %s", err);
    return id;
}

/* Send AWAIT for job, as the waiting attempt (waiter, attempt) when waiter > 0. */
static uint32_t send_await(struct ec *c, int64_t job, int64_t waiter, uint64_t attempt)
{
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_AWAIT;
    m.u.ref.job = (uint64_t)job;
    if (waiter > 0) {
        m.u.ref.has = RS_HAS_WAITER | RS_HAS_WAITER_ATTEMPT;
        m.u.ref.waiter = (uint64_t)waiter;
        m.u.ref.waiter_attempt = attempt;
    }
    uint32_t rid = ec_send(c, &m);
    cr_assert_neq(rid, 0);
    return rid;
}

/* Take the next DISPATCH of w; it must be job id. Returns its attempt. */
static uint64_t take(struct ec *w, int64_t id, const char *why)
{
    struct wire_reply d;
    cr_assert_eq(ec_next(w, RS_MSG_DISPATCH, T, &d), 0, "%s", why);
    cr_assert_eq(d.msg.u.dispatch.job, (uint64_t)id, "%s: job %llu dispatched instead", why,
                 (unsigned long long)d.msg.u.dispatch.job);
    uint64_t attempt = d.msg.u.dispatch.attempt;
    wire_reply_free(&d);
    return attempt;
}

/* The status of job as JOB says it. */
static enum rs_status status_of(struct ec *c, int64_t id, struct rs_job *copy)
{
    struct wire_reply r;
    cr_assert_eq(ec_call(c, RS_MSG_GET, (uint64_t)id, T, &r), 0);
    cr_assert_eq(r.msg.type, RS_MSG_JOB);
    enum rs_status st = r.msg.u.job.status;
    if (copy != NULL) {
        *copy = r.msg.u.job;
        copy->name = (struct rs_str){NULL, 0};
        copy->args = (struct rs_bytes){NULL, 0};
        copy->result = (struct rs_bytes){NULL, 0};
        copy->error = (struct rs_str){NULL, 0};
        copy->key = (struct rs_str){NULL, 0};
    }
    wire_reply_free(&r);
    return st;
}

Test(steps, identity_is_parent_and_position_and_shows_in_job_and_list, .fini = stop)
{
    fx_start(&fx, "stepid", NULL);
    struct ec app;
    fx_client(&fx, &app);
    int64_t parent = ec_enqueue_name(&app, "saga");
    bool dedup = true;
    int64_t s0 = enqueue_step(&app, "charge", parent, 0, &dedup);
    cr_expect(!dedup);
    int64_t s1 = enqueue_step(&app, "ship", parent, 1, &dedup);
    cr_expect(!dedup);
    cr_expect_neq(s0, s1);
    /* The parent's retry calls again: the same jobs, nothing new. */
    cr_expect_eq(enqueue_step(&app, "charge", parent, 0, &dedup), s0);
    cr_expect(dedup, "the second call of step 0 created a job");
    cr_expect_eq(enqueue_step(&app, "ship", parent, 1, &dedup), s1);
    cr_expect(dedup);
    /* Another function at a taken position is another step. */
    int64_t other = enqueue_step(&app, "refund", parent, 0, &dedup);
    cr_expect(!dedup);
    cr_expect_neq(other, s0);
    cr_expect_eq(fx_int(&fx, "SELECT count(*) FROM reseolio.jobs WHERE parent_id IS NOT NULL"), 3);
    char sql[160];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM reseolio.jobs WHERE idem_key = 'step:%lld:0' AND id = %lld",
             (long long)parent, (long long)s0);
    cr_expect_eq(fx_int(&fx, sql), 1, "step 0's key is not step:<parent>:0");

    struct rs_job j;
    status_of(&app, s1, &j);
    cr_expect(j.has & RS_HAS_PARENT);
    cr_expect_eq(j.parent, (uint64_t)parent);
    cr_expect_eq(j.step, 1);
    status_of(&app, parent, &j);
    cr_expect_eq(j.has & RS_HAS_PARENT, 0, "a top-level job claims a parent");

    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_LIST;
    m.u.list.has = RS_HAS_PARENT;
    m.u.list.parent = (uint64_t)parent;
    uint32_t rid = ec_send(&app, &m);
    struct wire_reply r;
    cr_assert_eq(ec_reply(&app, rid, T, &r), 0);
    cr_assert_eq(r.msg.type, RS_MSG_JOBS);
    cr_assert_eq(r.msg.u.jobs.njobs, 3, "LIST parent shows %u jobs", r.msg.u.jobs.njobs);
    cr_expect_eq(r.msg.u.jobs.jobs[0].id, (uint64_t)other); /* newest first */
    cr_expect_eq(r.msg.u.jobs.jobs[2].id, (uint64_t)s0);
    for (uint32_t i = 0; i < 3; i++)
        cr_expect_eq(r.msg.u.jobs.jobs[i].parent, (uint64_t)parent);
    wire_reply_free(&r);
    ec_close(&app);
}

Test(steps, retried_parent_reuses_a_succeeded_step_and_reruns_a_dead_one, .fini = stop)
{
    fx_start(&fx, "steprerun", NULL);
    struct ec app, w;
    fx_client(&fx, &app);
    fx_client(&fx, &w);
    cr_assert_eq(ec_register(&w, "charge", 4), 0);
    int64_t parent = ec_enqueue_name(&app, "saga");
    bool dedup;
    int64_t charge = enqueue_step(&app, "charge", parent, 0, &dedup);
    uint64_t a = take(&w, charge, "the first step did not run");
    cr_assert_eq(ec_ack(&w, (uint64_t)charge, a, true, "receipt", false, NULL, 0), 0);
    int64_t charge2 = enqueue_step(&app, "charge", parent, 1, &dedup);
    a = take(&w, charge2, "the second step did not run");
    cr_assert_eq(ec_ack(&w, (uint64_t)charge2, a, false, "card declined", false, NULL, 0), 0);
    cr_assert_eq(status_of(&app, charge2, NULL), RS_STATUS_DEAD);

    /* The parent runs again and calls both again. */
    cr_expect_eq(enqueue_step(&app, "charge", parent, 0, &dedup), charge);
    cr_expect(dedup);
    struct wire_reply r;
    cr_assert_eq(ec_call(&app, RS_MSG_AWAIT, (uint64_t)charge, T, &r), 0);
    cr_expect_eq(r.msg.u.completed.status, RS_STATUS_SUCCESS, "the stored result is not final");
    wire_reply_free(&r);
    cr_expect_eq(enqueue_step(&app, "charge", parent, 1, &dedup), charge2);
    cr_expect(dedup);
    a = take(&w, charge2, "the dead step did not run again");
    cr_expect_eq(a, 2, "the rerun is attempt %llu", (unsigned long long)a);
    cr_assert_eq(ec_ack(&w, (uint64_t)charge2, a, true, "ok now", false, NULL, 0), 0);
    cr_assert_eq(ec_call(&app, RS_MSG_AWAIT, (uint64_t)charge2, T, &r), 0);
    cr_expect_eq(r.msg.u.completed.status, RS_STATUS_SUCCESS);
    wire_reply_free(&r);
    /* The succeeded step never ran twice. */
    cr_expect(ec_none(&w, RS_MSG_DISPATCH, 300), "a finished step was dispatched again");
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT attempt FROM reseolio.jobs WHERE id = %lld",
             (long long)charge);
    cr_expect_eq(fx_int(&fx, sql), 1);
    ec_close(&app);
    ec_close(&w);
}

Test(steps, a_waiting_parent_lends_its_slot_to_its_step, .fini = stop)
{
    /* The sweep is five minutes away: only events may move the jobs here. */
    const char *const extra[] = {"--heartbeat-ms", "300000", "--lease-ms", "900000", NULL};
    fx_start(&fx, "steplend", extra);
    struct ec app, w;
    fx_client(&fx, &app);
    fx_client(&fx, &w);
    /* One slot for both functions: without lending, the step could never run. */
    struct rs_msg reg;
    memset(&reg, 0, sizeof(reg));
    struct rs_str names[2] = {RS_STR("saga"), RS_STR("charge")};
    reg.type = RS_MSG_REGISTER;
    reg.u.reg.names = names;
    reg.u.reg.nnames = 2;
    reg.u.reg.concurrency = 1;
    uint32_t rid = ec_send(&w, &reg);
    struct wire_reply r;
    cr_assert_eq(ec_reply(&w, rid, T, &r), 0);
    cr_assert_eq(r.msg.type, RS_MSG_OK);
    wire_reply_free(&r);

    int64_t parent = ec_enqueue_name(&app, "saga");
    uint64_t pa = take(&w, parent, "the parent did not run");
    bool dedup;
    int64_t step = enqueue_step(&w, "charge", parent, 0, &dedup);
    /* A plain AWAIT holds the slot: the step waits. */
    uint32_t plain = send_await(&w, step, 0, 0);
    cr_expect(ec_none(&w, RS_MSG_DISPATCH, 500), "the step ran while its parent held the slot");
    /* The parent's AWAIT as the waiter lends it. */
    uint32_t lent = send_await(&w, step, parent, pa);
    uint64_t sa = take(&w, step, "the step did not get the waiting parent's slot");
    /* A second top-level job must not take a slot back from the running step. */
    int64_t other = ec_enqueue_name(&app, "saga");
    cr_assert_eq(ec_ack(&w, (uint64_t)step, sa, true, "charged", false, NULL, 0), 0);
    cr_assert_eq(ec_reply(&w, lent, T, &r), 0);
    cr_expect_eq(r.msg.type, RS_MSG_COMPLETED);
    wire_reply_free(&r);
    cr_assert_eq(ec_reply(&w, plain, T, &r), 0);
    cr_expect_eq(r.msg.type, RS_MSG_COMPLETED);
    wire_reply_free(&r);
    /* The parent holds its slot again: the other job waits until it is done. */
    cr_expect(ec_none(&w, RS_MSG_DISPATCH, 300), "a job ran beside the resumed parent");
    cr_assert_eq(ec_ack(&w, (uint64_t)parent, pa, true, "done", false, NULL, 0), 0);
    take(&w, other, "the next job did not run after the parent finished");
    /* A waiter that is not running here lends nothing (and is no error). */
    uint32_t stranger = send_await(&w, parent, 424242, 1);
    cr_assert_eq(ec_reply(&w, stranger, T, &r), 0);
    cr_expect_eq(r.msg.type, RS_MSG_COMPLETED);
    wire_reply_free(&r);
    ec_close(&app);
    ec_close(&w);
}

Test(steps, cancelling_a_parent_cancels_its_pending_steps, .fini = stop)
{
    fx_start(&fx, "stepcancel", NULL);
    struct ec app, w;
    fx_client(&fx, &app);
    fx_client(&fx, &w);
    cr_assert_eq(ec_register(&w, "busy", 1), 0);
    int64_t parent = ec_enqueue_name(&app, "saga");
    bool dedup;
    int64_t pending = enqueue_step(&app, "charge", parent, 0, &dedup);
    int64_t grandchild = enqueue_step(&app, "audit", pending, 0, &dedup);
    int64_t running = enqueue_step(&app, "busy", parent, 1, &dedup);
    uint64_t ra = take(&w, running, "the running step did not start");
    int64_t unrelated = ec_enqueue_name(&app, "charge");
    uint32_t waiting = send_await(&app, pending, 0, 0);

    struct wire_reply r;
    cr_assert_eq(ec_call(&app, RS_MSG_CANCEL, (uint64_t)parent, T, &r), 0);
    cr_expect_eq(r.msg.u.job.status, RS_STATUS_CANCELLED);
    wire_reply_free(&r);
    cr_expect_eq(status_of(&app, pending, NULL), RS_STATUS_CANCELLED);
    cr_expect_eq(status_of(&app, grandchild, NULL), RS_STATUS_CANCELLED);
    cr_expect_eq(status_of(&app, running, NULL), RS_STATUS_RUNNING,
                 "a running step is left to finish");
    cr_expect_eq(status_of(&app, unrelated, NULL), RS_STATUS_PENDING);
    /* Whoever awaited a cancelled step hears of it. */
    cr_assert_eq(ec_reply(&app, waiting, T, &r), 0);
    cr_expect_eq(r.msg.type, RS_MSG_COMPLETED);
    cr_expect_eq(r.msg.u.completed.status, RS_STATUS_CANCELLED);
    wire_reply_free(&r);
    cr_assert_eq(ec_ack(&w, (uint64_t)running, ra, true, "ok", false, NULL, 0), 0);
    cr_expect_eq(status_of(&app, running, NULL), RS_STATUS_SUCCESS);

    /* Retrying the parent and calling the steps again runs the cancelled one again. */
    cr_assert_eq(ec_call(&app, RS_MSG_RETRY, (uint64_t)parent, T, &r), 0);
    wire_reply_free(&r);
    cr_expect_eq(enqueue_step(&app, "charge", parent, 0, &dedup), pending);
    cr_expect_eq(status_of(&app, pending, NULL), RS_STATUS_PENDING);
    cr_expect_eq(enqueue_step(&app, "busy", parent, 1, &dedup), running);
    cr_expect_eq(status_of(&app, running, NULL), RS_STATUS_SUCCESS, "a done step ran again");
    ec_close(&app);
    ec_close(&w);
}
