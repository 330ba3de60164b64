/*
 * Chaos, processes: SIGKILL a worker mid-job, SIGKILL the daemon (also between COMMIT and
 * the reply), a second host taking over a dead one's jobs, a SIGSTOPped worker fenced out,
 * many clients on two daemons racing for one idempotency key. docs/reliability.md maps each
 * test to the guarantee it proves.
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define T 20000

static struct daemon_proc d1, d2;
static char *db;
/* Worker processes a test still owes a chaos_kill: a failed assertion leaves them to the
 * teardown, or they would hold the test's output open (meson waits for it) for ever. */
static pid_t strays[4];

static void setup(void)
{
    cr_assert_eq(daemon_proc_init(&d1), 0);
    cr_assert_eq(daemon_proc_init(&d2), 0);
    db = pgtest_create_db("chaos");
    cr_assert_not_null(db);
}

static void teardown(void)
{
    for (size_t i = 0; i < sizeof(strays) / sizeof(strays[0]); i++)
        if (strays[i] > 0)
            chaos_kill(strays[i]);
    memset(strays, 0, sizeof(strays));
    daemon_proc_cleanup(&d1);
    daemon_proc_cleanup(&d2);
    free(db);
    db = NULL;
}

TestSuite(kill, .init = setup, .fini = teardown, .timeout = 120);

/* Jobs of the log whose 'E' records have these ids: a bitmap by job id. */
static char *chaos_jobs_of(const char *log, char kind, long max_id)
{
    char *seen = calloc((size_t)max_id + 1, 1);
    struct chaos_exec *v;
    long n = chaos_read_log(log, &v);
    cr_assert_geq(n, 0);
    for (long i = 0; i < n; i++)
        if (v[i].kind == kind && v[i].job >= 0 && v[i].job <= max_id)
            seen[v[i].job]++;
    free(v);
    return seen;
}

/* No (job, attempt) in the logs ran twice: an attempt is dispatched once, ever. */
static void chaos_assert_attempts_unique(const char *const *logs, size_t nlogs)
{
    struct chaos_exec *all = NULL;
    size_t n = 0;
    for (size_t l = 0; l < nlogs; l++) {
        struct chaos_exec *v;
        long k = chaos_read_log(logs[l], &v);
        cr_assert_geq(k, 0);
        all = realloc(all, (n + (size_t)k + 1) * sizeof(*all));
        for (long i = 0; i < k; i++)
            if (v[i].kind == 'E')
                all[n++] = v[i];
        free(v);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            cr_assert(all[i].job != all[j].job || all[i].attempt != all[j].attempt,
                      "job %lld attempt %lld was dispatched twice", (long long)all[i].job,
                      (long long)all[i].attempt);
    free(all);
}

Test(kill, kill_worker_midjob)
{
    enum { N = 300, HELD = 8 };
    chaos_start(&d1, db, NULL);
    char la[256], lb[256];
    chaos_path(la, sizeof(la), &d1, "a.log");
    chaos_path(lb, sizeof(lb), &d1, "b.log");
    pid_t a = chaos_worker(d1.socket, "kw", HELD, CHAOS_HOLD, la);
    cr_assert_gt(a, 0);
    cr_assert_eq(chaos_produce(d1.socket, "kw", "kw-", 0, N, 60000, NULL, T), N);
    cr_assert(chaos_wait_log(la, 'E', HELD, T), "the doomed worker got no jobs");
    pid_t b = chaos_worker(d1.socket, "kw", 4, CHAOS_ACK, lb);
    cr_assert_gt(b, 0);
    cr_assert(chaos_wait_log(lb, 'S', 20, T), "the healthy worker finished nothing");
    chaos_kill(a); /* mid-job: it holds HELD jobs and the other worker is busy */
    bool all =
        chaos_wait_sql(db, "SELECT count(*) FROM reseolio.jobs WHERE status = 'success'", N, 60000);
    chaos_kill(b);
    cr_assert(all, "not every job finished");
    cr_expect_eq(chaos_count(la, 'E'), HELD, "the held worker ran more than it held");
    /* Re-runs: exactly the jobs that were running in the dead worker, once more each. */
    long max_id = chaos_sql_int(db, "SELECT max(id) FROM reseolio.jobs");
    char *held = chaos_jobs_of(la, 'E', max_id);
    char *ran = chaos_jobs_of(lb, 'E', max_id);
    char *acked = chaos_jobs_of(lb, 'S', max_id);
    for (long id = 1; id <= max_id; id++) {
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT attempt FROM reseolio.jobs WHERE id = %ld", id);
        long long attempt = chaos_sql_int(db, sql);
        if (attempt < 0)
            continue;
        cr_expect_eq(attempt, held[id] ? 2 : 1, "job %ld: attempt %lld", id, attempt);
        cr_expect_eq(ran[id], 1, "job %ld ran %d times in the healthy worker", id, ran[id]);
        cr_expect_eq(acked[id], 1, "job %ld was acknowledged %d times", id, acked[id]);
    }
    free(held);
    free(ran);
    free(acked);
    const char *logs[] = {la, lb};
    chaos_assert_attempts_unique(logs, 2);
    cr_expect(daemon_proc_log_has(&d1, "releasing them for retry"));
}

Test(kill, kill_daemon)
{
    enum { N = 400, HELD = 4 };
    chaos_start(&d1, db, NULL);
    char lh[256], lw[256];
    chaos_path(lh, sizeof(lh), &d1, "h.log");
    chaos_path(lw, sizeof(lw), &d1, "w.log");
    pid_t h = strays[0] = chaos_worker(d1.socket, "kd", HELD, CHAOS_HOLD, lh);
    cr_assert_eq(chaos_produce(d1.socket, "kd", "kd-", 0, N, 60000, NULL, T), N);
    cr_assert(chaos_wait_log(lh, 'E', HELD, T));
    pid_t w = strays[1] = chaos_worker(d1.socket, "kd", 2, CHAOS_ACK, lw);
    cr_assert(chaos_wait_log(lw, 'S', 50, T), "nothing was acknowledged before the kill");
    daemon_proc_kill(&d1); /* pending, running and acknowledged jobs in the table now */
    chaos_kill(h);
    strays[0] = 0;
    /* The dead daemon's sessions may still commit the statement they were running (a claim,
     * a batch of outcomes): count only once they are gone, when nothing moves any more. */
    cr_assert(chaos_wait_sql(db,
                             "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                             "current_database() AND pid <> pg_backend_pid()",
                             0, T),
              "the killed daemon's PostgreSQL sessions did not end");
    long long pending = chaos_sql_int(db, "SELECT count(*) FROM reseolio.jobs WHERE status = "
                                          "'pending'");
    long long running = chaos_sql_int(db, "SELECT count(*) FROM reseolio.jobs WHERE status = "
                                          "'running'");
    long long done = chaos_sql_int(db, "SELECT count(*) FROM reseolio.jobs WHERE status = "
                                       "'success'");
    cr_log_info("at the kill: %lld pending, %lld running, %lld success", pending, running, done);
    cr_assert_gt(pending, 0);
    cr_assert_geq(running, HELD);
    cr_assert_gt(done, 0);
    cr_assert_eq(pending + running + done, N, "a job was lost or invented");
    /* Jobs running at the kill are the only ones that may run again. */
    cr_assert_eq(pgtest_exec(db, "CREATE TABLE public.at_kill AS SELECT id FROM reseolio.jobs "
                                 "WHERE status = 'running'"),
                 0);
    chaos_start(&d1, db, NULL); /* same socket; a new node id */
    /* The worker reconnects by itself; the old node's jobs come back after its lease. */
    bool all =
        chaos_wait_sql(db, "SELECT count(*) FROM reseolio.jobs WHERE status = 'success'", N, 60000);
    chaos_kill(w);
    strays[1] = 0;
    cr_assert(all, "not every job finished after the restart");
    cr_expect_eq(chaos_sql_int(db, "SELECT count(*) FROM reseolio.jobs"), N);
    cr_expect_eq(chaos_sql_int(db, "SELECT count(*) FROM reseolio.jobs WHERE attempt > 1 AND id "
                                   "NOT IN (SELECT id FROM public.at_kill)"),
                 0, "a job that was not running at the kill ran again");
    cr_expect(daemon_proc_log_has(&d1, "reclaimed from a lapsed node"));
    const char *logs[] = {lh, lw};
    chaos_assert_attempts_unique(logs, 2);
}

/* What the daemon's sessions are doing, for a failure message (static buffer). */
static const char *kill_activity(const char *dbname)
{
    static char buf[2048];
    snprintf(buf, sizeof(buf), "(pg_stat_activity unavailable)");
    PGconn *c = pgtest_connect(dbname);
    if (c == NULL)
        return buf;
    PGresult *r = PQexec(c, "SELECT string_agg(pid || ' ' || state || ' ' || coalesce("
                            "wait_event_type, '-') || ' ' || left(query, 48), ' | ') FROM "
                            "pg_stat_activity WHERE datname = current_database() AND pid <> "
                            "pg_backend_pid()");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        snprintf(buf, sizeof(buf), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return buf;
}

/*
 * The daemon's work session PREPAREs every statement when it (re)connects, and parse analysis
 * of the enqueue statement takes the same lock on jobs as running it, with the same query text
 * in pg_stat_activity. So the insert waiting on the lock is the ENQUEUE only once the session
 * is known to be set up: a first enqueue, answered, proves it. And no sweep (claim, expire,
 * reclaim: all lock jobs) may queue in front of the ENQUEUE in the session's pipeline while the
 * table is locked: the heartbeat is slowed down past the test's length.
 */
Test(kill, kill_daemon_around_commit)
{
    const char *const slow[] = {"--heartbeat-ms", "60000", "--lease-ms", "180000", NULL};
    chaos_start(&d1, db, slow);
    struct ec app;
    cr_assert_eq(ec_open(&app, d1.socket), 0);
    struct rs_enqueue warm;
    memset(&warm, 0, sizeof(warm));
    warm.name = RS_STR("pay");
    warm.key = RS_STR("warm-up");
    cr_assert_gt(ec_enqueue(&app, &warm, NULL, NULL, 0), 0, "the work session never got ready");
    /* Hold the insert inside PostgreSQL, freeze the daemon, let the insert commit, then kill
     * the daemon: the COMMIT happened and its reply never left. */
    PGconn *lock = pgtest_connect(db);
    cr_assert_not_null(lock);
    PGresult *r = PQexec(lock, "BEGIN; LOCK TABLE reseolio.jobs IN EXCLUSIVE MODE");
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(lock));
    PQclear(r);
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_ENQUEUE;
    m.u.enqueue.name = RS_STR("pay");
    m.u.enqueue.key = RS_STR("order-7");
    uint32_t rid = ec_send(&app, &m);
    cr_assert_neq(rid, 0);
    cr_assert(chaos_wait_sql(db,
                             "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                             "current_database() AND state = 'active' AND wait_event_type = "
                             "'Lock' AND query LIKE '%INSERT INTO jobs (id, name%'",
                             1, T),
              "the enqueue never reached PostgreSQL: %s", kill_activity(db));
    cr_assert_eq(kill(d1.pid, SIGSTOP), 0);
    r = PQexec(lock, "COMMIT");
    PQclear(r);
    PQfinish(lock);
    cr_assert(
        chaos_wait_sql(db, "SELECT count(*) FROM reseolio.jobs WHERE idem_key = 'order-7'", 1, T),
        "the enqueue did not commit: %s", kill_activity(db));
    daemon_proc_kill(&d1);
    struct wire_reply rep;
    cr_assert_neq(ec_reply(&app, rid, 2000, &rep), 0, "a reply got out after all");
    ec_close(&app);
    long long id = chaos_sql_int(db, "SELECT id FROM reseolio.jobs WHERE idem_key = 'order-7'");
    /* The client retries with the same key against the restarted daemon. */
    chaos_start(&d1, db, slow);
    cr_assert_eq(ec_open(&app, d1.socket), 0);
    struct rs_enqueue e;
    memset(&e, 0, sizeof(e));
    e.name = RS_STR("pay");
    e.key = RS_STR("order-7");
    bool dedup = false;
    int64_t again = ec_enqueue(&app, &e, &dedup, NULL, 0);
    cr_expect_eq(again, id, "the retry got job %lld, the committed one is %lld", (long long)again,
                 id);
    cr_expect(dedup, "the retry claims to have created the job");
    cr_expect_eq(chaos_sql_int(db, "SELECT count(*) FROM reseolio.jobs"), 2, "warm-up, order-7");
    ec_close(&app);
}

Test(kill, second_host_takes_over)
{
    enum { HELD = 3 };
    chaos_start(&d1, db, NULL);
    chaos_start(&d2, db, NULL);
    struct ec app2, w1;
    cr_assert_eq(ec_open(&app2, d2.socket), 0);
    cr_assert_eq(ec_open(&w1, d1.socket), 0);

    /* A result across hosts: enqueued and awaited on host 2, run and finished on host 1. */
    cr_assert_eq(ec_register(&w1, "x", 1), 0);
    int64_t x = ec_enqueue_name(&app2, "x");
    cr_assert_gt(x, 0);
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_AWAIT;
    m.u.ref.job = (uint64_t)x;
    uint32_t await_x = ec_send(&app2, &m);
    struct wire_reply d, r;
    cr_assert_eq(ec_next(&w1, RS_MSG_DISPATCH, T, &d), 0);
    wire_reply_free(&d);
    /* AWAIT is registered before the lookup; make sure it is there before the ACK. */
    cr_assert(
        chaos_wait_sql(db, "SELECT count(*) FROM reseolio.jobs WHERE status = 'running'", 1, T));
    int64_t t0 = ec_now_ms();
    cr_assert_eq(ec_ack(&w1, (uint64_t)x, 1, true, "from-host-1", false, NULL, 0), 0);
    cr_assert_eq(ec_reply(&app2, await_x, T, &r), 0, "the waiter on host 2 heard nothing");
    cr_expect_eq(r.msg.type, RS_MSG_COMPLETED);
    cr_expect_eq(r.msg.u.completed.status, RS_STATUS_SUCCESS);
    cr_expect_eq(r.msg.u.completed.result.len, 11);
    cr_log_info("cross-host result in %lld ms", (long long)(ec_now_ms() - t0));
    cr_expect_lt(ec_now_ms() - t0, 2000, "the result came by polling, not NOTIFY");
    wire_reply_free(&r);
    ec_close(&w1);

    /* Host 1 runs jobs; it dies; host 2 reclaims them after the lease and finishes them. */
    char lh[256];
    chaos_path(lh, sizeof(lh), &d1, "h.log");
    pid_t h = chaos_worker(d1.socket, "sh", HELD, CHAOS_HOLD, lh);
    uint32_t awaits[HELD];
    int64_t ids[HELD];
    for (int i = 0; i < HELD; i++) {
        ids[i] = ec_enqueue_name(&app2, "sh");
        cr_assert_gt(ids[i], 0);
    }
    cr_assert(chaos_wait_log(lh, 'E', HELD, T), "host 1's worker did not get the jobs");
    for (int i = 0; i < HELD; i++) {
        memset(&m, 0, sizeof(m));
        m.type = RS_MSG_AWAIT;
        m.u.ref.job = (uint64_t)ids[i];
        awaits[i] = ec_send(&app2, &m);
    }
    daemon_proc_kill(&d1);
    chaos_kill(h);
    int64_t killed = ec_now_ms();
    struct ec w2;
    cr_assert_eq(ec_open(&w2, d2.socket), 0);
    cr_assert_eq(ec_register(&w2, "sh", HELD), 0);
    for (int i = 0; i < HELD; i++) {
        cr_assert_eq(ec_next(&w2, RS_MSG_DISPATCH, T, &d), 0, "host 2 did not take job %d over", i);
        cr_expect_eq(d.msg.u.dispatch.attempt, 2);
        cr_assert_eq(ec_ack(&w2, d.msg.u.dispatch.job, d.msg.u.dispatch.attempt, true, "host-2",
                            false, NULL, 0),
                     0);
        wire_reply_free(&d);
    }
    cr_log_info("taken over %lld ms after the kill (lease %s ms)",
                (long long)(ec_now_ms() - killed), CHAOS_LEASE);
    for (int i = 0; i < HELD; i++) {
        cr_assert_eq(ec_reply(&app2, awaits[i], T, &r), 0);
        cr_expect_eq(r.msg.type, RS_MSG_COMPLETED);
        cr_expect_eq(r.msg.u.completed.status, RS_STATUS_SUCCESS);
        wire_reply_free(&r);
    }
    cr_expect(daemon_proc_log_has(&d2, "reclaimed from a lapsed node"));
    cr_expect_eq(chaos_sql_int(db, "SELECT count(*) FROM reseolio.jobs WHERE status <> 'success'"),
                 0);
    ec_close(&w2);
    ec_close(&app2);
}

Test(kill, stale_lease_fencing)
{
    chaos_start(&d1, db, NULL);
    char ls[256];
    chaos_path(ls, sizeof(ls), &d1, "s.log");
    pid_t p = chaos_worker(d1.socket, "fence", 1, CHAOS_STOP_THEN_ACK, ls);
    struct ec app, w2;
    cr_assert_eq(ec_open(&app, d1.socket), 0);
    struct rs_enqueue e;
    memset(&e, 0, sizeof(e));
    e.name = RS_STR("fence");
    e.has = RS_HAS_TIMEOUT | RS_HAS_INITIAL_DELAY | RS_HAS_MAX_ATTEMPTS;
    e.timeout_ms = 1000;
    e.initial_delay_ms = 10;
    e.max_attempts = 5;
    int64_t id = ec_enqueue(&app, &e, NULL, NULL, 0);
    cr_assert_gt(id, 0);
    int st;
    cr_assert_eq(waitpid(p, &st, WUNTRACED), p);
    cr_assert(WIFSTOPPED(st), "the worker did not stop with its job");
    /* Its lease runs out; a second worker runs attempt 2 and succeeds. */
    cr_assert_eq(ec_open(&w2, d1.socket), 0);
    cr_assert_eq(ec_register(&w2, "fence", 1), 0);
    struct wire_reply d;
    cr_assert_eq(ec_next(&w2, RS_MSG_DISPATCH, T, &d), 0, "the expired attempt was not retried");
    cr_expect_eq(d.msg.u.dispatch.attempt, 2);
    wire_reply_free(&d);
    cr_assert_eq(ec_ack(&w2, (uint64_t)id, 2, true, "new", false, NULL, 0), 0);
    /* The stale worker wakes up and acknowledges attempt 1. */
    cr_assert_eq(kill(p, SIGCONT), 0);
    cr_assert(chaos_wait_log(ls, 'X', 1, T), "the stale ACK got no refusal");
    chaos_kill(p);
    cr_expect_eq(chaos_count(ls, 'S'), 0, "the stale ACK was accepted");
    char sql[160];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM reseolio.jobs WHERE id = %lld AND status = 'success' AND "
             "attempt = 2 AND result = 'new'",
             (long long)id);
    cr_expect_eq(chaos_sql_int(db, sql), 1, "the newer result does not stand");
    cr_expect(daemon_proc_log_has(&d1, "is stale"));
    ec_close(&w2);
    ec_close(&app);
}

/* One racing client: its own connection to one of the daemons, the same key. */
struct racer {
    const char *socket;
    const char *key;
    pthread_barrier_t *go;
    int64_t id;
    bool dedup;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct ec c;
    r->id = -1;
    int ok = ec_open(&c, r->socket);
    pthread_barrier_wait(r->go);
    if (ok != 0)
        return NULL;
    struct rs_enqueue e;
    memset(&e, 0, sizeof(e));
    e.name = RS_STR("race");
    e.key = (struct rs_str){r->key, (uint32_t)strlen(r->key)};
    r->id = ec_enqueue(&c, &e, &r->dedup, NULL, 0);
    ec_close(&c);
    return NULL;
}

Test(kill, idempotency_race)
{
    enum { N = 24, ROUNDS = 8 };
    chaos_start(&d1, db, NULL);
    chaos_start(&d2, db, NULL);
    for (int round = 0; round < ROUNDS; round++) {
        char key[32];
        snprintf(key, sizeof(key), "k%d", round);
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, N);
        struct racer r[N];
        pthread_t th[N];
        for (int i = 0; i < N; i++) {
            r[i] = (struct racer){.socket = i % 2 ? d2.socket : d1.socket, .key = key, .go = &go};
            cr_assert_eq(pthread_create(&th[i], NULL, race, &r[i]), 0);
        }
        int created = 0;
        for (int i = 0; i < N; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&go);
        for (int i = 0; i < N; i++) {
            cr_assert_gt(r[i].id, 0, "round %d client %d got no id", round, i);
            cr_expect_eq(r[i].id, r[0].id, "round %d: two ids for one key", round);
            created += !r[i].dedup;
        }
        cr_expect_eq(created, 1, "round %d: %d clients created the job", round, created);
    }
    cr_expect_eq(chaos_sql_int(db, "SELECT count(*) FROM reseolio.jobs"), ROUNDS);
}

/*
 * A stale daemon: host 1 is SIGSTOPped as a whole (past its lease) while its worker holds a
 * job; host 2 reclaims the job and its worker finishes it. The worker of host 1 acknowledges
 * attempt 1 while its daemon is frozen; SIGCONT: host 1's late ACK, heartbeat and sweep change
 * nothing, it never runs the job again, and it serves new work afterwards.
 */
Test(kill, stale_daemon)
{
    chaos_start(&d1, db, NULL);
    chaos_start(&d2, db, NULL);
    struct ec app, w1, w2;
    cr_assert_eq(ec_open(&app, d2.socket), 0);
    cr_assert_eq(ec_open(&w1, d1.socket), 0);
    cr_assert_eq(ec_register(&w1, "sd", 1), 0);
    struct rs_enqueue e;
    memset(&e, 0, sizeof(e));
    e.name = RS_STR("sd");
    e.has = RS_HAS_TIMEOUT | RS_HAS_MAX_ATTEMPTS;
    e.timeout_ms = 120000; /* only the lapse of host 1 may take the attempt back */
    e.max_attempts = 5;
    int64_t id = ec_enqueue(&app, &e, NULL, NULL, 0);
    cr_assert_gt(id, 0);
    struct wire_reply d, r;
    cr_assert_eq(ec_next(&w1, RS_MSG_DISPATCH, T, &d), 0, "host 1's worker got no job");
    cr_assert_eq(d.msg.u.dispatch.job, (uint64_t)id);
    cr_assert_eq(d.msg.u.dispatch.attempt, 1);
    wire_reply_free(&d);

    cr_assert_eq(kill(d1.pid, SIGSTOP), 0);
    /* Host 2 reclaims the attempt after host 1's lease and its worker finishes the job. */
    cr_assert_eq(ec_open(&w2, d2.socket), 0);
    cr_assert_eq(ec_register(&w2, "sd", 1), 0);
    cr_assert_eq(ec_next(&w2, RS_MSG_DISPATCH, T, &d), 0, "host 2 did not take the job over");
    cr_expect_eq(d.msg.u.dispatch.attempt, 2);
    wire_reply_free(&d);
    cr_assert_eq(ec_ack(&w2, (uint64_t)id, 2, true, "new", false, NULL, 0), 0);

    /* Host 1's worker acknowledges attempt 1 into the frozen daemon's socket. */
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_ACK;
    m.u.ack.job = (uint64_t)id;
    m.u.ack.attempt = 1;
    m.u.ack.ok = true;
    m.u.ack.result = (struct rs_bytes){(const uint8_t *)"old", 3};
    uint32_t late = ec_send(&w1, &m);
    cr_assert_neq(late, 0);
    cr_assert_eq(kill(d1.pid, SIGCONT), 0);
    cr_assert_eq(ec_reply(&w1, late, T, &r), 0, "the late ACK got no answer");
    char code[64];
    cr_expect_str_eq(ec_code(&r, code, sizeof(code)), "stale_attempt");
    wire_reply_free(&r);

    /* Several heartbeats and sweeps of the resumed host, then a lease more: nothing moves. */
    cr_expect(ec_none(&w1, RS_MSG_DISPATCH, 2 * atoi(CHAOS_LEASE)),
              "the resumed daemon ran the job again");
    char sql[200];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM reseolio.jobs WHERE id = %lld AND status = 'success' AND "
             "attempt = 2 AND result = 'new' AND lease_node IS NULL",
             (long long)id);
    cr_expect_eq(chaos_sql_int(db, sql), 1, "the newer result does not stand");
    cr_expect(daemon_proc_log_has(&d2, "reclaimed from a lapsed node"));
    cr_expect(daemon_proc_log_has(&d1, "is stale"));

    /* The resumed host is a live node again and its worker's slot is free: new work runs
     * there (host 2's worker is gone). */
    ec_close(&w2);
    int64_t last = ec_enqueue_name(&app, "sd");
    cr_assert_gt(last, 0);
    cr_assert_eq(ec_next(&w1, RS_MSG_DISPATCH, T, &d), 0, "the resumed host runs nothing new");
    cr_expect_eq(d.msg.u.dispatch.job, (uint64_t)last);
    cr_expect_eq(d.msg.u.dispatch.attempt, 1);
    cr_assert_eq(
        ec_ack(&w1, d.msg.u.dispatch.job, d.msg.u.dispatch.attempt, true, "r", false, NULL, 0), 0);
    wire_reply_free(&d);
    cr_expect_eq(chaos_sql_int(db, "SELECT count(*) FROM reseolio.jobs WHERE status <> 'success'"),
                 0);
    ec_close(&w1);
    ec_close(&app);
}
