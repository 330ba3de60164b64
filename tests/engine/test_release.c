/*
 * A worker handing jobs back: ACK release (pending again, due now, the attempt not counted;
 * stale releases refused), and REGISTER concurrency 0 (drain: no DISPATCH until it goes up,
 * also below the attempts already running, with a claim in flight, and with an enqueue straight
 * to the worker in flight).
 */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"

#define T 10000

static struct fixture fx;

static void stop(void)
{
    fx_stop(&fx);
}

/* ENQUEUE name with max_attempts. */
static int64_t enqueue_max(struct ec *c, const char *name, uint64_t max_attempts)
{
    struct rs_enqueue e;
    memset(&e, 0, sizeof(e));
    e.name = (struct rs_str){name, (uint32_t)strlen(name)};
    e.has = RS_HAS_MAX_ATTEMPTS;
    e.max_attempts = max_attempts;
    return ec_enqueue(c, &e, NULL, NULL, 0);
}

/* One integer about job id: sql (a literal) has one %lld for the id. */
#define job_int(sql, id)                                                                           \
    __extension__({                                                                                \
        char q_[256];                                                                              \
        snprintf(q_, sizeof(q_), sql, (long long)(id));                                            \
        fx_int(&fx, q_);                                                                           \
    })

Test(release, hands_the_attempt_back_uncounted, .fini = stop)
{
    fx_start(&fx, "release", NULL);
    struct ec app, w;
    fx_client(&fx, &app);
    fx_client(&fx, &w);
    cr_assert_eq(ec_register(&w, "r", 1), 0);
    int64_t id = enqueue_max(&app, "r", 1);
    cr_assert_gt(id, 0);
    struct wire_reply d, r;
    cr_assert_eq(ec_next(&w, RS_MSG_DISPATCH, T, &d), 0);
    cr_expect_eq(d.msg.u.dispatch.attempt, 1);
    cr_expect_eq(d.msg.u.dispatch.max_attempts, 1);
    wire_reply_free(&d);

    /* The only attempt is handed back: the job is not dead but pending, and runs again. */
    char err[64] = "";
    cr_assert_eq(ec_release(&w, (uint64_t)id, 1, err, sizeof(err)), 0, "release: %s", err);
    cr_assert_eq(ec_next(&w, RS_MSG_DISPATCH, T, &d), 0, "the released job did not run again");
    cr_expect_eq(d.msg.u.dispatch.job, (uint64_t)id);
    cr_expect_eq(d.msg.u.dispatch.attempt, 2, "the attempt number is the fencing token");
    cr_expect_eq(d.msg.u.dispatch.max_attempts, 2, "the released attempt counted");
    wire_reply_free(&d);
    cr_expect_eq(job_int("SELECT uncounted FROM reseolio.jobs WHERE id = %lld", id), 1);
    cr_expect_eq(
        job_int("SELECT count(*) FROM reseolio.jobs WHERE id = %lld AND error IS NULL", id), 1,
        "a release records no error");

    /* The released attempt is over: neither its outcome nor a second release is taken. */
    cr_expect_eq(ec_release(&w, (uint64_t)id, 1, err, sizeof(err)), -1);
    cr_expect_str_eq(err, "stale_attempt");
    cr_expect_eq(ec_ack(&w, (uint64_t)id, 1, true, "late", false, err, sizeof(err)), -1);
    cr_expect_str_eq(err, "stale_attempt");

    cr_assert_eq(ec_ack(&w, (uint64_t)id, 2, true, "done", false, NULL, 0), 0);
    cr_assert_eq(ec_call(&app, RS_MSG_AWAIT, (uint64_t)id, T, &r), 0);
    cr_expect_eq(r.msg.type, RS_MSG_COMPLETED);
    cr_expect_eq(r.msg.u.completed.status, RS_STATUS_SUCCESS);
    cr_expect_eq(r.msg.u.completed.attempt, 2);
    wire_reply_free(&r);
    cr_expect(daemon_proc_log_has(&fx.d, "handed back by its worker"));
    ec_close(&app);
    ec_close(&w);
}

Test(release, a_release_for_no_running_attempt_is_stale, .fini = stop)
{
    fx_start(&fx, "relstale", NULL);
    struct ec app, w, other;
    fx_client(&fx, &app);
    fx_client(&fx, &w);
    fx_client(&fx, &other);
    char err[64] = "";
    /* never dispatched */
    int64_t id = enqueue_max(&app, "idle", 3);
    cr_expect_eq(ec_release(&w, (uint64_t)id, 1, err, sizeof(err)), -1);
    cr_expect_str_eq(err, "stale_attempt");
    cr_expect_eq(job_int("SELECT count(*) FROM reseolio.jobs WHERE id = %lld AND status = "
                         "'pending' AND attempt = 0 AND uncounted = 0",
                         id),
                 1);

    /* finished: the release cannot undo it */
    cr_assert_eq(ec_register(&w, "s", 1), 0);
    int64_t done = enqueue_max(&app, "s", 3);
    struct wire_reply d;
    cr_assert_eq(ec_next(&w, RS_MSG_DISPATCH, T, &d), 0);
    wire_reply_free(&d);
    cr_assert_eq(ec_ack(&w, (uint64_t)done, 1, true, "ok", false, NULL, 0), 0);
    cr_expect_eq(ec_release(&w, (uint64_t)done, 1, err, sizeof(err)), -1);
    cr_expect_str_eq(err, "stale_attempt");
    cr_expect_eq(
        job_int("SELECT count(*) FROM reseolio.jobs WHERE id = %lld AND status = 'success'", done),
        1);

    /* cancelled while running: the attempt is over */
    int64_t cid = enqueue_max(&app, "s", 3);
    cr_assert_eq(ec_next(&w, RS_MSG_DISPATCH, T, &d), 0);
    wire_reply_free(&d);
    struct wire_reply r;
    cr_assert_eq(ec_call(&app, RS_MSG_CANCEL, (uint64_t)cid, T, &r), 0);
    wire_reply_free(&r);
    cr_assert_eq(ec_next(&w, RS_MSG_ABANDON, T, &d), 0);
    wire_reply_free(&d);
    cr_expect_eq(ec_release(&w, (uint64_t)cid, 1, err, sizeof(err)), -1);
    cr_expect_str_eq(err, "stale_attempt");
    cr_expect_eq(
        job_int("SELECT count(*) FROM reseolio.jobs WHERE id = %lld AND status = 'cancelled'", cid),
        1);

    /* release with ok true is refused by the decoder (the C encoder refuses it too, so the
     * body is written by hand: [ACK, 7, {job: 1, attempt: 1, ok: true, release: true}]); the
     * connection stays open */
    static const uint8_t body[] = {0x93, 0x14, 0x07, 0x84, 0xa3, 'j', 'o',  'b',  0x01, 0xa7, 'a',
                                   't',  't',  'e',  'm',  'p',  't', 0x01, 0xa2, 'o',  'k',  0xc3,
                                   0xa7, 'r',  'e',  'l',  'e',  'a', 's',  'e',  0xc3};
    cr_assert_eq(wire_send_frame(other.fd, body, (uint32_t)sizeof(body)), 0);
    cr_assert_eq(ec_reply(&other, 7, T, &r), 0);
    char code[32];
    cr_expect_str_eq(ec_code(&r, code, sizeof(code)), "bad_value");
    wire_reply_free(&r);
    cr_expect_eq(ec_call(&other, RS_MSG_GET, (uint64_t)cid, T, &r), 0, "connection closed");
    wire_reply_free(&r);
    ec_close(&app);
    ec_close(&w);
    ec_close(&other);
}

Test(release, register_zero_drains_until_raised, .fini = stop)
{
    fx_start(&fx, "drain", NULL);
    struct ec app, w;
    fx_client(&fx, &app);
    fx_client(&fx, &w);
    cr_assert_eq(ec_register(&w, "d", 0), 0);
    int64_t a = enqueue_max(&app, "d", 1);
    cr_expect(ec_none(&w, RS_MSG_DISPATCH, 1500), "a drained worker got a DISPATCH");
    cr_expect_eq(job_int("SELECT count(*) FROM reseolio.jobs WHERE id = %lld AND status = "
                         "'pending' AND attempt = 0",
                         a),
                 1);
    cr_assert_eq(ec_register(&w, "d", 1), 0);
    struct wire_reply d;
    cr_assert_eq(ec_next(&w, RS_MSG_DISPATCH, T, &d), 0,
                 "raising the concurrency dispatched "
                 "nothing");
    cr_expect_eq(d.msg.u.dispatch.job, (uint64_t)a);
    cr_expect_eq(d.msg.u.dispatch.attempt, 1);
    wire_reply_free(&d);
    cr_assert_eq(ec_ack(&w, (uint64_t)a, 1, true, NULL, false, NULL, 0), 0);
    ec_close(&app);
    ec_close(&w);
}

Test(release, a_concurrency_below_what_runs_takes_effect_as_attempts_end, .fini = stop)
{
    fx_start(&fx, "below", NULL);
    struct ec app, w;
    fx_client(&fx, &app);
    fx_client(&fx, &w);
    cr_assert_eq(ec_register(&w, "b", 2), 0);
    int64_t j1 = enqueue_max(&app, "b", 3);
    int64_t j2 = enqueue_max(&app, "b", 3);
    struct wire_reply d1, d2, d;
    cr_assert_eq(ec_next(&w, RS_MSG_DISPATCH, T, &d1), 0);
    cr_assert_eq(ec_next(&w, RS_MSG_DISPATCH, T, &d2), 0);
    wire_reply_free(&d1);
    wire_reply_free(&d2);

    /* Two run, the concurrency drops to 0: both stay the worker's, nothing new comes. */
    cr_assert_eq(ec_register(&w, "b", 0), 0);
    int64_t j3 = enqueue_max(&app, "b", 3);
    cr_assert_eq(ec_ack(&w, (uint64_t)j1, 1, true, NULL, false, NULL, 0), 0);
    cr_expect(ec_none(&w, RS_MSG_DISPATCH, 1000), "DISPATCH while draining");

    /* Up to 1 while 1 still runs: still full. */
    cr_assert_eq(ec_register(&w, "b", 1), 0);
    cr_expect(ec_none(&w, RS_MSG_DISPATCH, 1000), "DISPATCH beyond the concurrency");
    cr_assert_eq(ec_ack(&w, (uint64_t)j2, 1, true, NULL, false, NULL, 0), 0);
    cr_assert_eq(ec_next(&w, RS_MSG_DISPATCH, T, &d), 0, "a free slot dispatched nothing");
    cr_expect_eq(d.msg.u.dispatch.job, (uint64_t)j3);
    wire_reply_free(&d);
    cr_assert_eq(ec_ack(&w, (uint64_t)j3, 1, true, NULL, false, NULL, 0), 0);
    ec_close(&app);
    ec_close(&w);
}

/*
 * REGISTER 0 right behind REGISTER 1 races the claim the first one started: whichever wins,
 * no job is lost and none loses an attempt (a job claimed for the worker after it drained is
 * handed back uncounted).
 */
Test(release, draining_during_a_claim_costs_no_attempt, .fini = stop)
{
    fx_start(&fx, "claimrace", NULL);
    struct ec app, w, w2;
    fx_client(&fx, &app);
    fx_client(&fx, &w);
    enum { N = 20 };
    int64_t ids[N];
    for (int i = 0; i < N; i++)
        ids[i] = enqueue_max(&app, "c", 1);
    cr_assert_eq(ec_register(&w, "c", N), 0);
    cr_assert_eq(ec_register(&w, "c", 0), 0);
    /* What was dispatched before the drain's OK is this worker's: hand it back. */
    struct wire_reply d;
    int got = 0;
    while (ec_next(&w, RS_MSG_DISPATCH, 300, &d) == 0) {
        char err[64] = "";
        cr_expect_eq(
            ec_release(&w, d.msg.u.dispatch.job, d.msg.u.dispatch.attempt, err, sizeof(err)), 0,
            "release: %s", err);
        wire_reply_free(&d);
        got++;
    }
    cr_log_info("%d of %d jobs were dispatched before the drain", got, N);
    /* REGISTER 1 started a claim in its loop turn, before REGISTER 0 could be read: what it
     * claimed was either dispatched (and released above) or handed back when it came back. */
    cr_expect(got == N || daemon_proc_wait_log(&fx.d, "no worker could take", T),
              "the claim in flight neither dispatched nor handed back its jobs");
    /* A claim still in flight hands its jobs back when it comes back: wait for that. */
    int64_t end = ec_now_ms() + T;
    while (fx_int(&fx, "SELECT count(*) FROM reseolio.jobs WHERE status = 'running'") != 0 &&
           ec_now_ms() < end)
        cr_assert(ec_none(&w, RS_MSG_DISPATCH, 50), "DISPATCH to a drained worker");
    cr_expect_eq(fx_int(&fx, "SELECT count(*) FROM reseolio.jobs WHERE status = 'running'"), 0);
    cr_expect_eq(fx_int(&fx, "SELECT count(*) FROM reseolio.jobs WHERE attempt - uncounted <> 0"),
                 0, "a handed-back job lost an attempt");
    /* Another worker runs every job, each with its one attempt intact. */
    fx_client(&fx, &w2);
    cr_assert_eq(ec_register(&w2, "c", N), 0);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(ec_next(&w2, RS_MSG_DISPATCH, T, &d), 0, "job %d of %d did not run", i + 1, N);
        cr_assert_eq(
            ec_ack(&w2, d.msg.u.dispatch.job, d.msg.u.dispatch.attempt, true, NULL, false, NULL, 0),
            0);
        wire_reply_free(&d);
    }
    for (int i = 0; i < N; i++) {
        struct wire_reply r;
        cr_assert_eq(ec_call(&app, RS_MSG_AWAIT, (uint64_t)ids[i], T, &r), 0);
        cr_expect_eq(r.msg.u.completed.status, RS_STATUS_SUCCESS);
        wire_reply_free(&r);
    }
    ec_close(&app);
    ec_close(&w);
    ec_close(&w2);
}

/* An enqueue straight to a worker (queue drained, slot free) that commits after the worker
 * drained itself (REGISTER 0) must not reach it: the job goes back to pending, uncounted. The
 * test holds the job's key in an open transaction, so that the daemon's INSERT waits with the
 * slot reserved while the REGISTER 0 is answered. */
Test(release, draining_during_a_direct_enqueue_costs_no_attempt, .fini = stop)
{
    fx_start(&fx, "draindirect", NULL);
    struct ec app, w;
    fx_client(&fx, &app);
    fx_client(&fx, &w);
    cr_assert_eq(ec_register(&w, "e", 1), 0);
    /* One job through, so the queue is known drained and the slot free again. */
    int64_t first = enqueue_max(&app, "e", 1);
    struct wire_reply d, r;
    cr_assert_eq(ec_next(&w, RS_MSG_DISPATCH, T, &d), 0);
    wire_reply_free(&d);
    cr_assert_eq(ec_ack(&w, (uint64_t)first, 1, true, NULL, false, NULL, 0), 0);

    PGconn *holder = PQconnectdb(fx.db);
    cr_assert_eq(PQstatus(holder), CONNECTION_OK, "%s", PQerrorMessage(holder));
    PGresult *res = PQexec(holder, "BEGIN; INSERT INTO reseolio.jobs (name, args, idem_key, run_at,"
                                   " created_at) VALUES ('e', '', 'held', now(), now())");
    cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "%s", PQerrorMessage(holder));
    PQclear(res);
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_ENQUEUE;
    m.u.enqueue.name = RS_STR("e");
    m.u.enqueue.key = RS_STR("held");
    m.u.enqueue.has = RS_HAS_MAX_ATTEMPTS;
    m.u.enqueue.max_attempts = 1;
    uint32_t rid = ec_send(&app, &m);
    cr_assert_neq(rid, 0);
    /* The daemon's INSERT waits for the held key. */
    bool waiting = false;
    for (int i = 0; i < 1000 && !waiting; i++) {
        waiting = fx_int(&fx, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                              "'Lock' AND datname = current_database()") > 0;
        if (!waiting)
            cr_assert(ec_none(&w, RS_MSG_DISPATCH, 10));
    }
    cr_assert(waiting, "the daemon's enqueue never waited for the held key");
    cr_assert_eq(ec_register(&w, "e", 0), 0);
    res = PQexec(holder, "ROLLBACK");
    PQclear(res);
    PQfinish(holder);
    cr_assert_eq(ec_reply(&app, rid, T, &r), 0);
    cr_assert_eq(r.msg.type, RS_MSG_ENQUEUED);
    int64_t id = (int64_t)r.msg.u.enqueued.job;
    wire_reply_free(&r);
    cr_expect(ec_none(&w, RS_MSG_DISPATCH, 300), "a drained worker got the job");
    /* Handed back uncounted; a worker with a slot runs its one attempt. */
    struct ec w2;
    fx_client(&fx, &w2);
    cr_assert_eq(ec_register(&w2, "e", 1), 0);
    cr_assert_eq(ec_next(&w2, RS_MSG_DISPATCH, T, &d), 0, "the job never ran");
    cr_assert_eq(d.msg.u.dispatch.job, (uint64_t)id);
    uint64_t attempt = d.msg.u.dispatch.attempt;
    wire_reply_free(&d);
    cr_assert_eq(ec_ack(&w2, (uint64_t)id, attempt, true, NULL, false, NULL, 0), 0);
    cr_expect_eq(job_int("SELECT count(*) FROM reseolio.jobs WHERE id = %lld"
                         " AND status = 'success'",
                         id),
                 1);
}
