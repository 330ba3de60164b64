/*
 * Claim cursors (docs/architecture.md, "Claim cursors"): the claim for a function starts past
 * the last job this daemon claimed there. A job that becomes pending before that place must
 * still be claimed as soon as a slot is free, not at the next sweep: its wake-up drops the
 * cursor. The sweep here is five minutes away, so only the wake-up can do it. And the
 * transaction that cursors work around, one holding back vacuum, is reported.
 */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"

#define T 10000 /* bound on every wait, ms */

static struct fixture fx;

static void stop(void)
{
    fx_stop(&fx);
}

/* ENQUEUE of f due at run_at_ms (0: now) with priority. */
static int64_t enqueue_at(struct ec *c, int64_t run_at_ms, int64_t priority)
{
    struct rs_enqueue e;
    memset(&e, 0, sizeof(e));
    e.name = (struct rs_str){"f", 1};
    if (run_at_ms != 0) {
        e.has |= RS_HAS_RUN_AT;
        e.run_at = run_at_ms;
    }
    e.has |= RS_HAS_PRIORITY;
    e.priority = priority;
    return ec_enqueue(c, &e, NULL, NULL, 0);
}

/* The next DISPATCH to worker must be job id (attempt 1). */
static void expect_dispatch(struct ec *worker, int64_t id)
{
    struct wire_reply d;
    cr_assert_eq(ec_next(worker, RS_MSG_DISPATCH, T, &d), 0, "no DISPATCH of job %lld",
                 (long long)id);
    cr_assert_eq(d.msg.u.dispatch.job, (uint64_t)id, "dispatched %llu, expected %lld",
                 (unsigned long long)d.msg.u.dispatch.job, (long long)id);
    wire_reply_free(&d);
}

Test(cursor, a_job_before_the_cursor_is_claimed_at_once, .fini = stop)
{
    const char *const extra[] = {"--heartbeat-ms", "300000", "--lease-ms", "900000", NULL};
    fx_start(&fx, "cursor1", extra);
    struct ec app, worker;
    fx_client(&fx, &app);
    fx_client(&fx, &worker);
    cr_assert_eq(ec_register(&worker, "f", 1), 0);
    int64_t now = ec_now_ms();

    /* j0 takes the one slot; j1 waits and is then claimed, which sets the cursor at it. */
    int64_t j0 = enqueue_at(&app, 0, 0);
    expect_dispatch(&worker, j0);
    int64_t j1 = enqueue_at(&app, now - 5000, 0);
    cr_assert_eq(ec_ack(&worker, (uint64_t)j0, 1, true, NULL, false, NULL, 0), 0);
    expect_dispatch(&worker, j1);

    /* Each of these is due before the cursor (an earlier run_at at its priority, or a lower
     * priority): the claim after the running job's ACK must find it. */
    int64_t prev = j1;
    const int64_t run_ats[] = {now - 10000, now - 20000, now - 30000};
    const int64_t priorities[] = {0, -1, 0};
    for (int i = 0; i < 3; i++) {
        int64_t j = enqueue_at(&app, run_ats[i], priorities[i]);
        cr_assert_eq(ec_ack(&worker, (uint64_t)prev, 1, true, NULL, false, NULL, 0), 0);
        expect_dispatch(&worker, j);
        prev = j;
    }
    cr_assert_eq(ec_ack(&worker, (uint64_t)prev, 1, true, NULL, false, NULL, 0), 0);
    cr_assert(ec_none(&worker, RS_MSG_DISPATCH, 200));
    cr_assert_eq(fx_int(&fx, "SELECT count(*) FROM reseolio.jobs WHERE status = 'success'"), 5);
}

/* Order still holds across cursors: a backlog at two priorities, claimed one at a time, runs
 * best priority first and earliest run_at first, and jobs added behind the cursor meanwhile
 * take their place. */
Test(cursor, order_holds_while_jobs_arrive_behind_it, .fini = stop)
{
    const char *const extra[] = {"--heartbeat-ms", "300000", "--lease-ms", "900000", NULL};
    fx_start(&fx, "cursor2", extra);
    struct ec app, worker;
    fx_client(&fx, &app);
    fx_client(&fx, &worker);
    int64_t now = ec_now_ms();
    enum { N = 20 };
    int64_t ids[N];
    /* 0..9 at priority 0, due in order; 10..19 at priority 1, due in order. */
    for (int i = 0; i < N; i++)
        ids[i] = enqueue_at(&app, now - 100000 + (i % 10) * 1000, i < 10 ? 0 : 1);
    cr_assert_eq(ec_register(&worker, "f", 1), 0);
    for (int i = 10; i < N; i++) {
        expect_dispatch(&worker, ids[i]);
        cr_assert_eq(ec_ack(&worker, (uint64_t)ids[i], 1, true, NULL, false, NULL, 0), 0);
    }
    for (int i = 0; i < 5; i++) {
        expect_dispatch(&worker, ids[i]);
        if (i < 4)
            cr_assert_eq(ec_ack(&worker, (uint64_t)ids[i], 1, true, NULL, false, NULL, 0), 0);
    }
    /* The cursor is at job 4, which holds the slot. One job due before all of them arrives:
     * it runs next. */
    int64_t late = enqueue_at(&app, now - 200000, 0);
    cr_assert_eq(ec_ack(&worker, (uint64_t)ids[4], 1, true, NULL, false, NULL, 0), 0);
    expect_dispatch(&worker, late);
    cr_assert_eq(ec_ack(&worker, (uint64_t)late, 1, true, NULL, false, NULL, 0), 0);
    for (int i = 5; i < 10; i++) {
        expect_dispatch(&worker, ids[i]);
        cr_assert_eq(ec_ack(&worker, (uint64_t)ids[i], 1, true, NULL, false, NULL, 0), 0);
    }
    cr_assert(ec_none(&worker, RS_MSG_DISPATCH, 200));
}

/* A daemon that looks for old transactions every 100 ms and warns after 1 s, and a session
 * named app that runs begin, then statement, and stays idle in that transaction. */
static PGconn *hold_transaction(const char *prefix, const char *app, const char *begin,
                                const char *statement)
{
    const char *const extra[] = {"--heartbeat-ms", "100", "--vacuum-warn-s", "1", NULL};
    fx_start(&fx, prefix, extra);
    char conninfo[1024];
    snprintf(conninfo, sizeof(conninfo), "%s application_name=%s", fx.db, app);
    PGconn *holder = PQconnectdb(conninfo);
    cr_assert_eq(PQstatus(holder), CONNECTION_OK, "%s", PQerrorMessage(holder));
    PGresult *r = PQexec(holder, begin);
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    r = PQexec(holder, statement);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(holder));
    PQclear(r);
    return holder;
}

/* While a transaction holds back vacuum the claim stays fast, but the table grows: the daemon
 * says so in its log, naming the session, once it is older than --vacuum-warn-s. */
Test(cursor, a_transaction_holding_back_vacuum_is_reported, .fini = stop)
{
    /* The SELECT takes the snapshot. */
    PGconn *holder =
        hold_transaction("cursor3", "rs-holder", "BEGIN ISOLATION LEVEL REPEATABLE READ",
                         "SELECT count(*) FROM pg_class");
    cr_assert(daemon_proc_wait_log(&fx.d, "application 'rs-holder', idle in transaction", T),
              "no warning about the transaction holding back vacuum");
    cr_assert(daemon_proc_log_has(&fx.d, "has held back vacuum for"));
    PQfinish(holder);
}

/* A READ COMMITTED session that wrote and then sits idle in its transaction has no snapshot
 * between statements, but its transaction id holds vacuum back all the same. */
Test(cursor, an_idle_writing_transaction_is_reported, .fini = stop)
{
    /* A transaction id, as a write takes. */
    PGconn *holder =
        hold_transaction("cursor4", "rs-writer", "BEGIN", "SELECT pg_current_xact_id()");
    cr_assert(daemon_proc_wait_log(&fx.d, "application 'rs-writer', idle in transaction", T),
              "no warning about the idle transaction holding back vacuum");
    PQfinish(holder);
}
