/*
 * One job's life through the real daemon and PostgreSQL: enqueue, dispatch, ack, await;
 * await of a finished job; stale acks; concurrency; future run_at; cancel, retry, list.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"

#define T 10000 /* bound on every wait, ms */

static struct fixture fx;

static void stop(void)
{
    fx_stop(&fx);
}

/* ENQUEUE with a run_at or a delay and some options. */
static int64_t enqueue_opts(struct ec *c, const char *name, int64_t delay_ms, uint64_t max_attempts)
{
    struct rs_enqueue e;
    memset(&e, 0, sizeof(e));
    e.name = (struct rs_str){name, (uint32_t)strlen(name)};
    e.args = (struct rs_bytes){(const uint8_t *)"\x91\x01", 2};
    if (delay_ms > 0) {
        e.has |= RS_HAS_DELAY;
        e.delay_ms = (uint64_t)delay_ms;
    }
    e.has |= RS_HAS_MAX_ATTEMPTS;
    e.max_attempts = max_attempts;
    return ec_enqueue(c, &e, NULL, NULL, 0);
}

Test(flow, enqueue_dispatch_ack_await, .fini = stop)
{
    fx_start(&fx, "flow1", NULL);
    struct ec app, worker;
    fx_client(&fx, &app);
    fx_client(&fx, &worker);
    cr_assert_eq(ec_register(&worker, "mail:send", 4), 0);

    int64_t id = enqueue_opts(&app, "mail:send", 0, 3);
    cr_assert_gt(id, 0);
    /* AWAIT before the job ran: answered when the ACK commits. */
    struct rs_msg aw;
    memset(&aw, 0, sizeof(aw));
    aw.type = RS_MSG_AWAIT;
    aw.u.ref.job = (uint64_t)id;
    uint32_t await_rid = ec_send(&app, &aw);
    cr_assert_neq(await_rid, 0);

    struct wire_reply d;
    cr_assert_eq(ec_next(&worker, RS_MSG_DISPATCH, T, &d), 0, "no DISPATCH");
    cr_expect_eq(d.msg.u.dispatch.job, (uint64_t)id);
    cr_expect_eq(d.msg.u.dispatch.attempt, 1);
    cr_expect_eq(d.msg.u.dispatch.max_attempts, 3);
    cr_expect_eq(d.msg.u.dispatch.args.len, 2);
    cr_expect(memcmp(d.msg.u.dispatch.args.ptr, "\x91\x01", 2) == 0);
    cr_expect(d.msg.u.dispatch.name.len == 9 &&
              memcmp(d.msg.u.dispatch.name.ptr, "mail:send", 9) == 0);
    wire_reply_free(&d);
    cr_assert_eq(ec_ack(&worker, (uint64_t)id, 1, true, "\xa2ok", false, NULL, 0), 0);

    struct wire_reply r;
    cr_assert_eq(ec_reply(&app, await_rid, T, &r), 0, "no COMPLETED");
    cr_assert_eq(r.msg.type, RS_MSG_COMPLETED);
    cr_expect_eq(r.msg.u.completed.status, RS_STATUS_SUCCESS);
    cr_expect_eq(r.msg.u.completed.attempt, 1);
    cr_expect(r.msg.u.completed.result.len == 3 &&
              memcmp(r.msg.u.completed.result.ptr, "\xa2ok", 3) == 0);
    wire_reply_free(&r);

    /* GET shows the whole record. */
    cr_assert_eq(ec_call(&app, RS_MSG_GET, (uint64_t)id, T, &r), 0);
    cr_assert_eq(r.msg.type, RS_MSG_JOB);
    cr_expect_eq(r.msg.u.job.status, RS_STATUS_SUCCESS);
    cr_expect_eq(r.msg.u.job.attempt, 1);
    cr_expect(r.msg.u.job.has & RS_HAS_FINISHED_AT);
    cr_expect(r.msg.u.job.has & RS_HAS_STARTED_AT);
    cr_expect_leq(r.msg.u.job.created_at, r.msg.u.job.finished_at);
    wire_reply_free(&r);
    ec_close(&app);
    ec_close(&worker);
}

Test(flow, await_of_a_finished_job_and_unknown_job, .fini = stop)
{
    fx_start(&fx, "flow2", NULL);
    struct ec app, worker;
    fx_client(&fx, &app);
    fx_client(&fx, &worker);
    cr_assert_eq(ec_register(&worker, "f", 1), 0);
    int64_t id = ec_enqueue_name(&app, "f");
    struct wire_reply d, r;
    cr_assert_eq(ec_next(&worker, RS_MSG_DISPATCH, T, &d), 0);
    wire_reply_free(&d);
    cr_assert_eq(ec_ack(&worker, (uint64_t)id, 1, false, "boom", false, NULL, 0), 0);

    cr_assert_eq(ec_call(&app, RS_MSG_AWAIT, (uint64_t)id, T, &r), 0);
    cr_assert_eq(r.msg.type, RS_MSG_COMPLETED);
    cr_expect_eq(r.msg.u.completed.status, RS_STATUS_DEAD);
    cr_expect(r.msg.u.completed.error.len == 4 &&
              memcmp(r.msg.u.completed.error.ptr, "boom", 4) == 0);
    wire_reply_free(&r);

    char code[32];
    cr_assert_eq(ec_call(&app, RS_MSG_AWAIT, 999999, T, &r), 0);
    cr_expect_str_eq(ec_code(&r, code, sizeof(code)), "not_found");
    wire_reply_free(&r);

    /* An AWAIT with a timeout on a job that never runs: ERROR timeout, retryable. */
    int64_t idle = ec_enqueue_name(&app, "nobody-serves-this");
    struct rs_msg aw;
    memset(&aw, 0, sizeof(aw));
    aw.type = RS_MSG_AWAIT;
    aw.u.ref.job = (uint64_t)idle;
    aw.u.ref.has = RS_HAS_AWAIT_TIMEOUT;
    aw.u.ref.timeout_ms = 200;
    uint32_t rid = ec_send(&app, &aw);
    int64_t t0 = ec_now_ms();
    cr_assert_eq(ec_reply(&app, rid, T, &r), 0);
    cr_expect_str_eq(ec_code(&r, code, sizeof(code)), "timeout");
    cr_expect(r.msg.u.error.retryable);
    cr_expect_geq(ec_now_ms() - t0, 190);
    wire_reply_free(&r);
    ec_close(&app);
    ec_close(&worker);
}

Test(flow, a_stale_ack_changes_nothing, .fini = stop)
{
    fx_start(&fx, "flow3", NULL);
    struct ec app, worker;
    fx_client(&fx, &app);
    fx_client(&fx, &worker);
    cr_assert_eq(ec_register(&worker, "f", 1), 0);
    int64_t id = ec_enqueue_name(&app, "f");
    struct wire_reply d, r;
    cr_assert_eq(ec_next(&worker, RS_MSG_DISPATCH, T, &d), 0);
    wire_reply_free(&d);
    char code[32];
    /* A wrong attempt number: stale, nothing changes. */
    cr_expect_eq(ec_ack(&worker, (uint64_t)id, 2, true, "bad", false, code, sizeof(code)), -1);
    cr_expect_str_eq(code, "stale_attempt");
    cr_assert_eq(ec_ack(&worker, (uint64_t)id, 1, true, "good", false, NULL, 0), 0);
    /* Repeating the ACK after it was recorded: stale too; the result stands. */
    cr_expect_eq(ec_ack(&worker, (uint64_t)id, 1, false, "late", true, code, sizeof(code)), -1);
    cr_expect_str_eq(code, "stale_attempt");
    cr_assert_eq(ec_call(&app, RS_MSG_GET, (uint64_t)id, T, &r), 0);
    cr_expect_eq(r.msg.u.job.status, RS_STATUS_SUCCESS);
    cr_expect(r.msg.u.job.result.len == 4 && memcmp(r.msg.u.job.result.ptr, "good", 4) == 0);
    wire_reply_free(&r);
    ec_close(&app);
    ec_close(&worker);
}

Test(flow, concurrency_is_never_exceeded, .fini = stop)
{
    fx_start(&fx, "flow4", NULL);
    struct ec app, worker;
    fx_client(&fx, &app);
    fx_client(&fx, &worker);
    cr_assert_eq(ec_register(&worker, "c", 2), 0);
    for (int i = 0; i < 10; i++)
        cr_assert_gt(ec_enqueue_name(&app, "c"), 0);
    int done = 0;
    while (done < 10) {
        /* Take every DISPATCH that comes within a short window: never more than 2 out. */
        uint64_t held[16], attempts[16];
        int n = 0;
        struct wire_reply d;
        cr_assert_eq(ec_next(&worker, RS_MSG_DISPATCH, T, &d), 0, "stalled after %d", done);
        held[n] = d.msg.u.dispatch.job;
        attempts[n++] = d.msg.u.dispatch.attempt;
        wire_reply_free(&d);
        while (n < 16 && ec_next(&worker, RS_MSG_DISPATCH, 150, &d) == 0) {
            held[n] = d.msg.u.dispatch.job;
            attempts[n++] = d.msg.u.dispatch.attempt;
            wire_reply_free(&d);
        }
        cr_assert_leq(n, 2, "%d jobs outstanding with concurrency 2", n);
        for (int i = 0; i < n; i++)
            cr_assert_eq(ec_ack(&worker, held[i], attempts[i], true, NULL, false, NULL, 0), 0);
        done += n;
    }
    cr_expect_eq(fx_int(&fx, "SELECT count(*) FROM reseolio.jobs WHERE status = 'success'"), 10);
    ec_close(&app);
    ec_close(&worker);
}

Test(flow, future_run_at_is_not_dispatched_early_and_is_on_time, .fini = stop)
{
    fx_start(&fx, "flow5", NULL);
    struct ec app, worker;
    fx_client(&fx, &app);
    fx_client(&fx, &worker);
    cr_assert_eq(ec_register(&worker, "later", 1), 0);
    int64_t t0 = ec_now_ms();
    int64_t id = enqueue_opts(&app, "later", 700, 3);
    cr_assert_gt(id, 0);
    struct wire_reply d;
    cr_assert_eq(ec_next(&worker, RS_MSG_DISPATCH, T, &d), 0);
    int64_t waited = ec_now_ms() - t0;
    cr_expect_eq(d.msg.u.dispatch.job, (uint64_t)id);
    wire_reply_free(&d);
    cr_expect_geq(waited, 690, "dispatched after %lld ms, before its run_at", (long long)waited);
    cr_expect_leq(waited, 1500, "dispatched %lld ms after a 700 ms delay (timer missed?)",
                  (long long)waited);
    cr_assert_eq(ec_ack(&worker, (uint64_t)id, 1, true, NULL, false, NULL, 0), 0);

    /* A worker that registers after the job was enqueued still gets it on time. */
    struct ec late;
    fx_client(&fx, &late);
    t0 = ec_now_ms();
    id = enqueue_opts(&app, "later2", 600, 3);
    cr_assert_eq(ec_register(&late, "later2", 1), 0);
    cr_assert_eq(ec_next(&late, RS_MSG_DISPATCH, T, &d), 0);
    waited = ec_now_ms() - t0;
    wire_reply_free(&d);
    cr_expect_geq(waited, 590);
    cr_expect_leq(waited, 1500, "dispatched %lld ms after a 600 ms delay", (long long)waited);
    ec_close(&late);
    ec_close(&app);
    ec_close(&worker);
}

Test(flow, cancel_pending_and_running_then_retry, .fini = stop)
{
    fx_start(&fx, "flow6", NULL);
    struct ec app, worker;
    fx_client(&fx, &app);
    fx_client(&fx, &worker);
    char code[32];
    struct wire_reply r, d;

    /* Pending: cancelled, its waiter learns it, a second CANCEL is a conflict. */
    int64_t p = ec_enqueue_name(&app, "cx");
    struct rs_msg aw;
    memset(&aw, 0, sizeof(aw));
    aw.type = RS_MSG_AWAIT;
    aw.u.ref.job = (uint64_t)p;
    uint32_t await_rid = ec_send(&app, &aw);
    cr_assert_eq(ec_call(&app, RS_MSG_CANCEL, (uint64_t)p, T, &r), 0);
    cr_assert_eq(r.msg.type, RS_MSG_JOB, "%s", ec_code(&r, code, sizeof(code)));
    cr_expect_eq(r.msg.u.job.status, RS_STATUS_CANCELLED);
    wire_reply_free(&r);
    cr_assert_eq(ec_reply(&app, await_rid, T, &r), 0);
    cr_expect_eq(r.msg.type, RS_MSG_COMPLETED);
    cr_expect_eq(r.msg.u.completed.status, RS_STATUS_CANCELLED);
    wire_reply_free(&r);
    cr_assert_eq(ec_call(&app, RS_MSG_CANCEL, (uint64_t)p, T, &r), 0);
    cr_expect_str_eq(ec_code(&r, code, sizeof(code)), "conflict");
    wire_reply_free(&r);

    /* Running: the worker gets ABANDON cancelled and its ACK is stale. */
    cr_assert_eq(ec_register(&worker, "cx", 1), 0);
    int64_t run = ec_enqueue_name(&app, "cx");
    cr_assert_eq(ec_next(&worker, RS_MSG_DISPATCH, T, &d), 0);
    cr_assert_eq(d.msg.u.dispatch.job, (uint64_t)run);
    wire_reply_free(&d);
    cr_assert_eq(ec_call(&app, RS_MSG_CANCEL, (uint64_t)run, T, &r), 0);
    cr_expect_eq(r.msg.u.job.status, RS_STATUS_CANCELLED);
    wire_reply_free(&r);
    cr_assert_eq(ec_next(&worker, RS_MSG_ABANDON, T, &d), 0, "no ABANDON");
    cr_expect_eq(d.msg.u.abandon.job, (uint64_t)run);
    cr_expect_eq(d.msg.u.abandon.reason, RS_ABANDON_CANCELLED);
    wire_reply_free(&d);
    cr_expect_eq(ec_ack(&worker, (uint64_t)run, 1, true, NULL, false, code, sizeof(code)), -1);
    cr_expect_str_eq(code, "stale_attempt");

    /* RETRY: pending again, with a fresh set of attempts; runs as attempt 2 of limit 2+3. */
    cr_assert_eq(ec_call(&app, RS_MSG_RETRY, (uint64_t)run, T, &r), 0);
    cr_assert_eq(r.msg.type, RS_MSG_JOB, "%s", ec_code(&r, code, sizeof(code)));
    wire_reply_free(&r);
    cr_assert_eq(ec_next(&worker, RS_MSG_DISPATCH, T, &d), 0, "the retried job did not run");
    cr_expect_eq(d.msg.u.dispatch.job, (uint64_t)run);
    cr_expect_eq(d.msg.u.dispatch.attempt, 2);
    cr_expect_eq(d.msg.u.dispatch.max_attempts, 4);
    wire_reply_free(&d);
    cr_assert_eq(ec_ack(&worker, (uint64_t)run, 2, true, NULL, false, NULL, 0), 0);
    cr_assert_eq(ec_call(&app, RS_MSG_RETRY, (uint64_t)run, T, &r), 0);
    cr_expect_str_eq(ec_code(&r, code, sizeof(code)), "conflict");
    wire_reply_free(&r);
    ec_close(&app);
    ec_close(&worker);
}

/* LIST with a status and a name filter and a page size; returns the reply. */
static void list(struct ec *c, const char *status, const char *name, uint64_t limit, uint64_t after,
                 struct wire_reply *r)
{
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_LIST;
    if (status != NULL) {
        m.u.list.has_status = true;
        m.u.list.status = (enum rs_status)rs_status_parse(status, strlen(status));
    }
    if (name != NULL)
        m.u.list.name = (struct rs_str){name, (uint32_t)strlen(name)};
    m.u.list.has |= RS_HAS_LIMIT;
    m.u.list.limit = limit;
    if (after > 0) {
        m.u.list.has |= RS_HAS_AFTER;
        m.u.list.after = after;
    }
    uint32_t rid = ec_send(c, &m);
    cr_assert_eq(ec_reply(c, rid, T, r), 0);
    cr_assert_eq(r->msg.type, RS_MSG_JOBS);
}

Test(flow, list_with_filters_and_cursor, .fini = stop)
{
    fx_start(&fx, "flow7", NULL);
    struct ec app;
    fx_client(&fx, &app);
    int64_t a[5], b[3];
    for (int i = 0; i < 5; i++)
        a[i] = ec_enqueue_name(&app, "list:a");
    for (int i = 0; i < 3; i++)
        b[i] = ec_enqueue_name(&app, "list:b");
    struct wire_reply r;
    cr_assert_eq(ec_call(&app, RS_MSG_CANCEL, (uint64_t)a[0], T, &r), 0);
    wire_reply_free(&r);

    /* Name filter, pages of 2, newest first, cursor until the end. */
    uint64_t after = 0;
    int seen = 0;
    int64_t expect[4] = {a[4], a[3], a[2], a[1]};
    for (int page = 0; page < 3; page++) {
        list(&app, "pending", "list:a", 2, after, &r);
        for (uint32_t i = 0; i < r.msg.u.jobs.njobs; i++) {
            cr_expect_eq(r.msg.u.jobs.jobs[i].id, (uint64_t)expect[seen]);
            seen++;
        }
        bool more = (r.msg.u.jobs.has & RS_HAS_NEXT) != 0;
        after = r.msg.u.jobs.next;
        wire_reply_free(&r);
        if (!more)
            break;
    }
    cr_expect_eq(seen, 4);
    list(&app, "cancelled", NULL, 100, 0, &r);
    cr_expect_eq(r.msg.u.jobs.njobs, 1);
    if (r.msg.u.jobs.njobs == 1)
        cr_expect_eq(r.msg.u.jobs.jobs[0].id, (uint64_t)a[0]);
    wire_reply_free(&r);
    list(&app, NULL, "list:b", 100, 0, &r);
    cr_expect_eq(r.msg.u.jobs.njobs, 3);
    cr_expect_eq(r.msg.u.jobs.jobs[0].id, (uint64_t)b[2]);
    cr_expect_not(r.msg.u.jobs.has & RS_HAS_NEXT);
    wire_reply_free(&r);
    ec_close(&app);
}

Test(flow, retention_deletes_finished_jobs_and_only_them, .fini = stop)
{
    const char *const extra[] = {"--retention-s", "2", "--heartbeat-ms", "100", NULL};
    fx_start(&fx, "flow6", extra);
    struct ec app, w;
    fx_client(&fx, &app);
    fx_client(&fx, &w);
    cr_assert_eq(ec_register(&w, "done", 4), 0);
    int64_t old = ec_enqueue_name(&app, "done");
    struct wire_reply d;
    cr_assert_eq(ec_next(&w, RS_MSG_DISPATCH, T, &d), 0);
    wire_reply_free(&d);
    cr_assert_eq(ec_ack(&w, (uint64_t)old, 1, true, "r", false, NULL, 0), 0);
    int64_t waiting = ec_enqueue_name(&app, "nobody-runs-this");
    char sql[128];
    /* Past the retention: gone at a sweep soon after (the wait is bounded). */
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM reseolio.jobs WHERE id = %lld",
             (long long)old);
    int64_t end = ec_now_ms() + 15000;
    while (fx_int(&fx, sql) != 0 && ec_now_ms() < end)
        usleep(50 * 1000);
    cr_assert_eq(fx_int(&fx, sql), 0, "a job finished 2 s ago was not deleted");
    /* A job that just finished, and a pending one older than the retention, stay. */
    int64_t fresh = ec_enqueue_name(&app, "done");
    cr_assert_eq(ec_next(&w, RS_MSG_DISPATCH, T, &d), 0);
    wire_reply_free(&d);
    cr_assert_eq(ec_ack(&w, (uint64_t)fresh, 1, true, "r", false, NULL, 0), 0);
    struct wire_reply r;
    cr_assert_eq(ec_call(&app, RS_MSG_GET, (uint64_t)fresh, T, &r), 0);
    cr_expect_eq(r.msg.type, RS_MSG_JOB);
    wire_reply_free(&r);
    cr_assert_eq(ec_call(&app, RS_MSG_GET, (uint64_t)waiting, T, &r), 0);
    cr_expect_eq(r.msg.type, RS_MSG_JOB, "a pending job was deleted");
    cr_expect_eq(r.msg.u.job.status, RS_STATUS_PENDING);
    wire_reply_free(&r);
    /* A deleted job is unknown to AWAIT and GET. */
    cr_assert_eq(ec_call(&app, RS_MSG_AWAIT, (uint64_t)old, T, &r), 0);
    char code[32];
    cr_expect_str_eq(ec_code(&r, code, sizeof(code)), "not_found");
    wire_reply_free(&r);
    ec_close(&app);
    ec_close(&w);
}

/* The job's creation and start were one transaction (the enqueue created it running). */
static bool started_by_its_enqueue(int64_t id)
{
    char sql[200];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM reseolio.jobs WHERE id = %lld AND"
             " created_at = date_trunc('milliseconds', started_at)"
             " AND started_at - created_at < interval '1 millisecond'",
             (long long)id);
    return fx_int(&fx, sql) == 1;
}

/* Take the next DISPATCH; it must be of job id. Returns its attempt. */
static uint64_t take_dispatch(struct ec *w, int64_t id, const char *why)
{
    struct wire_reply d;
    cr_assert_eq(ec_next(w, RS_MSG_DISPATCH, T, &d), 0, "%s", why);
    cr_assert_eq(d.msg.u.dispatch.job, (uint64_t)id, "%s: job %llu came instead", why,
                 (unsigned long long)d.msg.u.dispatch.job);
    uint64_t attempt = d.msg.u.dispatch.attempt;
    wire_reply_free(&d);
    return attempt;
}

Test(flow, a_job_enqueued_while_a_worker_is_free_starts_without_a_claim, .fini = stop)
{
    fx_start(&fx, "flow7", NULL);
    struct ec app, w;
    fx_client(&fx, &app);
    fx_client(&fx, &w);
    cr_assert_eq(ec_register(&w, "direct", 2), 0);
    /* The first job finds no claim made yet. Once a claim found the queue empty (the daemon
     * tells nobody when; a job or two more may still go through a claim), a job enqueued
     * while the worker is free starts in its enqueue's own transaction. */
    bool direct = false;
    for (int i = 0; i < 10 && !direct; i++) {
        int64_t id = ec_enqueue_name(&app, "direct");
        uint64_t a = take_dispatch(&w, id, "a lone job");
        cr_expect_eq(a, 1);
        direct = started_by_its_enqueue(id);
        cr_assert_eq(ec_ack(&w, (uint64_t)id, a, true, "r", false, NULL, 0), 0);
        struct wire_reply r;
        cr_assert_eq(ec_call(&app, RS_MSG_AWAIT, (uint64_t)id, T, &r), 0);
        cr_expect_eq(r.msg.u.completed.status, RS_STATUS_SUCCESS);
        wire_reply_free(&r);
    }
    cr_expect(direct, "10 lone jobs in a row all went through a claim");

    /* A duplicate key creates nothing: the slot it was promised is free again. */
    struct rs_enqueue e;
    memset(&e, 0, sizeof(e));
    e.name = RS_STR("direct");
    e.key = RS_STR("once");
    bool dedup = true;
    int64_t keyed = ec_enqueue(&app, &e, &dedup, NULL, 0);
    cr_assert(!dedup);
    cr_assert_eq(
        ec_ack(&w, (uint64_t)keyed, take_dispatch(&w, keyed, "keyed"), true, "r", false, NULL, 0),
        0);
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(ec_enqueue(&app, &e, &dedup, NULL, 0), keyed);
        cr_expect(dedup);
    }
    int64_t x = ec_enqueue_name(&app, "direct");
    int64_t y = ec_enqueue_name(&app, "direct");
    uint64_t ax = take_dispatch(&w, x, "after duplicates (1)");
    uint64_t ay = take_dispatch(&w, y, "after duplicates (2): a slot leaked");
    cr_assert_eq(ec_ack(&w, (uint64_t)x, ax, true, "r", false, NULL, 0), 0);
    cr_assert_eq(ec_ack(&w, (uint64_t)y, ay, true, "r", false, NULL, 0), 0);
    ec_close(&app);
    ec_close(&w);
}

Test(flow, a_new_job_never_overtakes_one_already_waiting, .fini = stop)
{
    fx_start(&fx, "flow8", NULL);
    struct ec app, w;
    fx_client(&fx, &app);
    fx_client(&fx, &w);
    cr_assert_eq(ec_register(&w, "fifo", 1), 0);
    int64_t busy = ec_enqueue_name(&app, "fifo");
    uint64_t a = take_dispatch(&w, busy, "busy");
    int64_t waiting = ec_enqueue_name(&app, "fifo"); /* no slot: pending */
    /* The slot frees and a new job arrives at once: the waiting one goes first. */
    struct rs_msg ack;
    memset(&ack, 0, sizeof(ack));
    ack.type = RS_MSG_ACK;
    ack.u.ack.job = (uint64_t)busy;
    ack.u.ack.attempt = a;
    ack.u.ack.ok = true;
    cr_assert_neq(ec_send(&w, &ack), 0);
    int64_t later = ec_enqueue_name(&app, "fifo");
    uint64_t aw = take_dispatch(&w, waiting, "the waiting job");
    cr_assert_eq(ec_ack(&w, (uint64_t)waiting, aw, true, "r", false, NULL, 0), 0);
    uint64_t al = take_dispatch(&w, later, "the later job");
    cr_assert_eq(ec_ack(&w, (uint64_t)later, al, true, "r", false, NULL, 0), 0);
    ec_close(&app);
    ec_close(&w);
}
