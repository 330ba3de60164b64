/*
 * Chaos, PostgreSQL: restarted repeatedly under load, down for longer than requests may wait,
 * and its LISTEN session terminated. Tests here restart the cluster: run with --jobs 1.
 */
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define T 20000

static struct daemon_proc d1, d2;
static char *db;

static void setup(void)
{
    cr_assert_eq(daemon_proc_init(&d1), 0);
    cr_assert_eq(daemon_proc_init(&d2), 0);
    db = pgtest_create_db("chaospg");
    cr_assert_not_null(db);
}

static void teardown(void)
{
    daemon_proc_cleanup(&d1);
    daemon_proc_cleanup(&d2);
    free(db);
    db = NULL;
}

TestSuite(pg, .init = setup, .fini = teardown, .timeout = 180);

struct producer {
    const char *socket;
    long n;
    long done;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    p->done = chaos_produce(p->socket, "pr", "pr-", 0, p->n, 60000, NULL, 120000);
    return NULL;
}

Test(pg, postgres_restart)
{
    enum { N = 600, RESTARTS = 3 };
    const char *const extra[] = {"--unavailable-ms", "2000", NULL};
    chaos_start(&d1, db, extra);
    char l1[256], l2[256];
    chaos_path(l1, sizeof(l1), &d1, "w1.log");
    chaos_path(l2, sizeof(l2), &d1, "w2.log");
    pid_t w1 = chaos_worker(d1.socket, "pr", 4, CHAOS_ACK, l1);
    pid_t w2 = chaos_worker(d1.socket, "pr", 4, CHAOS_ACK, l2);
    struct producer p = {.socket = d1.socket, .n = N};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, produce, &p), 0);
    for (int i = 0; i < RESTARTS; i++) {
        long seen = chaos_count(l1, 'S') + chaos_count(l2, 'S');
        /* Under load: wait for progress since the last restart, then restart again. */
        int64_t end = chaos_now_ms() + T;
        while (chaos_count(l1, 'S') + chaos_count(l2, 'S') < seen + 40 && chaos_now_ms() < end)
            chaos_wait_log(l1, 'S', chaos_count(l1, 'S') + 1, 200);
        cr_assert_eq(pgtest_restart(), 0);
        cr_assert_lt(daemon_proc_wait(&d1, 0), 0, "the daemon exited with PostgreSQL");
    }
    pthread_join(th, NULL);
    cr_assert_eq(p.done, N, "only %ld of %d enqueued", p.done, N);
    /* Well within the attempts' timeout (60 s): no job may wait for its deadline, not even
     * one that a claim leased to the daemon in the COMMIT whose reply a crash swallowed. */
    int64_t t0 = chaos_now_ms();
    bool all =
        chaos_wait_sql(db, "SELECT count(*) FROM reseolio.jobs WHERE status = 'success'", N, 90000);
    int64_t took = chaos_now_ms() - t0;
    chaos_kill(w1);
    chaos_kill(w2);
    cr_assert(all, "not every job finished");
    cr_log_info("every job final %lld ms after the last enqueue", (long long)took);
    cr_expect_lt(took, 30000, "the last jobs waited %lld ms: for their deadline?", (long long)took);
    cr_expect(!daemon_proc_log_has(&d1, "timed out: now"), "an attempt waited for its deadline");
    /* The workers ACK at once: no attempt may count twice (a handed-back one does not). */
    cr_expect_eq(chaos_sql_int(db, "SELECT count(*) FROM reseolio.jobs WHERE attempt - uncounted "
                                   "<> 1"),
                 0);
    cr_expect_eq(chaos_sql_int(db, "SELECT count(*) FROM reseolio.jobs"), N);
    cr_expect_lt(daemon_proc_wait(&d1, 0), 0, "the daemon exited");
    cr_expect(daemon_proc_log_has(&d1, "PostgreSQL session re-established"));
    cr_expect(daemon_proc_log_has(&d1, "LISTEN session re-established"));
    /* After all that, LISTEN is armed again: a new job starts at once. */
    struct ec app, w;
    cr_assert_eq(ec_open(&app, d1.socket), 0);
    cr_assert_eq(ec_open(&w, d1.socket), 0);
    cr_assert_eq(ec_register(&w, "after", 1), 0);
    int64_t id = ec_enqueue_name(&app, "after");
    cr_assert_gt(id, 0);
    struct wire_reply d;
    cr_assert_eq(ec_next(&w, RS_MSG_DISPATCH, 5000, &d), 0);
    wire_reply_free(&d);
    ec_close(&w);
    ec_close(&app);
}

Test(pg, outage_answers_unavailable_within_the_bound)
{
    const char *const extra[] = {"--unavailable-ms", "1000", NULL};
    chaos_start(&d1, db, extra);
    struct ec app;
    cr_assert_eq(ec_open(&app, d1.socket), 0);
    cr_assert_eq(pgtest_stop(), 0);
    struct rs_enqueue e;
    memset(&e, 0, sizeof(e));
    e.name = RS_STR("o");
    e.key = RS_STR("o-1");
    char err[64] = "";
    int64_t t0 = chaos_now_ms();
    int64_t id = ec_enqueue(&app, &e, NULL, err, sizeof(err));
    int64_t took = chaos_now_ms() - t0;
    cr_expect_eq(id, -1);
    cr_expect_str_eq(err, "unavailable");
    cr_expect_lt(took, 5000, "answered after %lld ms", (long long)took);
    cr_log_info("unavailable after %lld ms", (long long)took);
    cr_expect(daemon_proc_wait_log(&d1, "PostgreSQL unreachable for", T));
    cr_assert_eq(pgtest_start(), 0);
    /* Back: the same request (same key) succeeds after a few retries. */
    int64_t end = chaos_now_ms() + T;
    do {
        id = ec_enqueue(&app, &e, NULL, err, sizeof(err));
    } while (id < 0 && strcmp(err, "unavailable") == 0 && chaos_now_ms() < end);
    cr_expect_gt(id, 0, "still failing: %s", err);
    cr_expect_lt(daemon_proc_wait(&d1, 0), 0, "the daemon exited");
    cr_expect_eq(chaos_sql_int(db, "SELECT count(*) FROM reseolio.jobs"), 1);
    ec_close(&app);
}

Test(pg, listener_killed)
{
    /* No sweep within the test (heartbeat 60 s): only NOTIFY and the catch-up start jobs. */
    const char *const slow[] = {"--heartbeat-ms", "60000", "--lease-ms", "180000", NULL};
    chaos_start(&d1, db, slow);
    chaos_start(&d2, db, slow);
    struct ec app, w;
    cr_assert_eq(ec_open(&app, d2.socket), 0);
    cr_assert_eq(ec_open(&w, d1.socket), 0);
    cr_assert_eq(ec_register(&w, "lk", 1), 0);
    for (int round = 0; round < 3; round++) {
        long long killed = chaos_sql_int(
            db, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = "
                "current_database() AND query LIKE 'LISTEN%'");
        cr_assert_geq(killed, 1, "no LISTEN session found");
        /* Enqueued on the other daemon while this one's LISTEN session is (maybe) down. */
        int64_t t0 = chaos_now_ms();
        int64_t id = ec_enqueue_name(&app, "lk");
        cr_assert_gt(id, 0);
        struct wire_reply d;
        cr_assert_eq(ec_next(&w, RS_MSG_DISPATCH, 5000, &d), 0, "round %d: the job did not start",
                     round);
        cr_log_info("round %d: started %lld ms after the enqueue", round,
                    (long long)(chaos_now_ms() - t0));
        cr_expect_eq(d.msg.u.dispatch.job, (uint64_t)id);
        wire_reply_free(&d);
        cr_assert_eq(ec_ack(&w, (uint64_t)id, 1, true, NULL, false, NULL, 0), 0);
        cr_assert(daemon_proc_wait_log(&d1, "LISTEN session re-established", T));
    }
    ec_close(&w);
    ec_close(&app);
}
