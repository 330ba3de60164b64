/*
 * Workers and clients coming and going: idempotent enqueue under concurrency, a worker
 * connection closed mid-job, a worker process SIGKILLed mid-job, a graceful stop with a job
 * in flight, and a daemon with no --storage running a job on its private cluster.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"

#define T 10000

static struct fixture fx;

static void stop(void)
{
    fx_stop(&fx);
}

/* One racing enqueuer: its own connection, the same key. */
struct racer {
    const char *socket;
    int64_t id;
    bool dedup;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct ec c;
    r->id = -1;
    if (ec_open(&c, r->socket) != 0)
        return NULL;
    struct rs_enqueue e;
    memset(&e, 0, sizeof(e));
    e.name = RS_STR("pay:charge");
    e.key = RS_STR("order-42");
    r->id = ec_enqueue(&c, &e, &r->dedup, NULL, 0);
    ec_close(&c);
    return NULL;
}

Test(workers, idempotent_enqueue_under_concurrency, .fini = stop)
{
    fx_start(&fx, "idem", NULL);
    enum { N = 8 };
    struct racer r[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        r[i] = (struct racer){.socket = fx.d.socket};
        cr_assert_eq(pthread_create(&th[i], NULL, race, &r[i]), 0);
    }
    int created = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        cr_assert_gt(r[i].id, 0);
        cr_expect_eq(r[i].id, r[0].id, "two ids for one key");
        created += !r[i].dedup;
    }
    cr_expect_eq(created, 1, "%d enqueues claim to have created the job", created);
    cr_expect_eq(fx_int(&fx, "SELECT count(*) FROM reseolio.jobs WHERE idem_key = 'order-42'"), 1);
}

Test(workers, closed_worker_connection_mid_job_is_retried_and_finishes, .fini = stop)
{
    fx_start(&fx, "closed", NULL);
    struct ec app, w1, w2;
    fx_client(&fx, &app);
    fx_client(&fx, &w1);
    cr_assert_eq(ec_register(&w1, "job", 1), 0);
    int64_t id = ec_enqueue_name(&app, "job");
    struct wire_reply d, r;
    cr_assert_eq(ec_next(&w1, RS_MSG_DISPATCH, T, &d), 0);
    wire_reply_free(&d);
    ec_close(&w1); /* mid-job */
    fx_client(&fx, &w2);
    cr_assert_eq(ec_register(&w2, "job", 1), 0);
    cr_assert_eq(ec_next(&w2, RS_MSG_DISPATCH, T, &d), 0, "the released job did not run again");
    cr_expect_eq(d.msg.u.dispatch.job, (uint64_t)id);
    cr_expect_eq(d.msg.u.dispatch.attempt, 2);
    wire_reply_free(&d);
    cr_assert_eq(ec_ack(&w2, (uint64_t)id, 2, true, "done", false, NULL, 0), 0);
    cr_assert_eq(ec_call(&app, RS_MSG_AWAIT, (uint64_t)id, T, &r), 0);
    cr_expect_eq(r.msg.u.completed.status, RS_STATUS_SUCCESS);
    wire_reply_free(&r);
    ec_close(&app);
    ec_close(&w2);
}

Test(workers, sigkilled_worker_process_mid_job_is_retried_and_finishes, .fini = stop)
{
    fx_start(&fx, "killed", NULL);
    int ready[2];
    cr_assert_eq(pipe(ready), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        /* The worker process: take the job, say so, then hang until killed. */
        struct ec w;
        struct wire_reply d;
        if (ec_open(&w, fx.d.socket) != 0 || ec_register(&w, "victim", 4) != 0 ||
            ec_next(&w, RS_MSG_DISPATCH, T, &d) != 0)
            _exit(1);
        char one = 1;
        if (write(ready[1], &one, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    close(ready[1]);
    struct ec app, w2;
    fx_client(&fx, &app);
    int64_t id = ec_enqueue_name(&app, "victim");
    char one;
    cr_assert_eq(read(ready[0], &one, 1), 1, "the worker process got no job");
    close(ready[0]);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fx_client(&fx, &w2);
    cr_assert_eq(ec_register(&w2, "victim", 1), 0);
    struct wire_reply d, r;
    cr_assert_eq(ec_next(&w2, RS_MSG_DISPATCH, T, &d), 0, "the killed worker's job did not rerun");
    cr_expect_eq(d.msg.u.dispatch.job, (uint64_t)id);
    cr_expect_eq(d.msg.u.dispatch.attempt, 2);
    wire_reply_free(&d);
    cr_assert_eq(ec_ack(&w2, (uint64_t)id, 2, true, NULL, false, NULL, 0), 0);
    cr_assert_eq(ec_call(&app, RS_MSG_AWAIT, (uint64_t)id, T, &r), 0);
    cr_expect_eq(r.msg.u.completed.status, RS_STATUS_SUCCESS);
    wire_reply_free(&r);
    cr_expect(daemon_proc_log_has(&fx.d, "releasing them for retry"));
    ec_close(&app);
    ec_close(&w2);
}

Test(workers, graceful_stop_waits_for_the_running_job_then_hands_back_the_rest)
{
    const char *const args[] = {"--shutdown-grace-ms", "5000", NULL};
    fx_start(&fx, "graceful", args);
    struct ec app, worker;
    fx_client(&fx, &app);
    fx_client(&fx, &worker);
    cr_assert_eq(ec_register(&worker, "g", 2), 0);
    int64_t a = ec_enqueue_name(&app, "g");
    int64_t b = ec_enqueue_name(&app, "g");
    struct wire_reply d1, d2;
    cr_assert_eq(ec_next(&worker, RS_MSG_DISPATCH, T, &d1), 0);
    cr_assert_eq(ec_next(&worker, RS_MSG_DISPATCH, T, &d2), 0);
    wire_reply_free(&d1);
    wire_reply_free(&d2);
    kill(fx.d.pid, SIGTERM);
    cr_assert(daemon_proc_wait_log(&fx.d, "get 5000 ms to finish", T));
    /* During the grace an ACK is still taken; the other job is handed back at the end. */
    cr_assert_eq(ec_ack(&worker, (uint64_t)a, 1, true, NULL, false, NULL, 0), 0);
    struct wire_reply ab;
    cr_assert_eq(ec_next(&worker, RS_MSG_ABANDON, T, &ab), 0, "no ABANDON shutdown");
    cr_expect_eq(ab.msg.u.abandon.job, (uint64_t)b);
    cr_expect_eq(ab.msg.u.abandon.reason, RS_ABANDON_SHUTDOWN);
    wire_reply_free(&ab);
    int st = daemon_proc_wait(&fx.d, T);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %#x", st);
    char sql[128];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM reseolio.jobs WHERE id = %lld AND status = 'pending'",
             (long long)b);
    cr_expect_eq(fx_int(&fx, sql), 1, "the unfinished job was not handed back");
    cr_expect_eq(fx_int(&fx, "SELECT count(*) FROM reseolio.jobs WHERE status = 'running'"), 0);
    cr_expect_eq(fx_int(&fx, "SELECT count(*) FROM reseolio.nodes"), 0);
    ec_close(&app);
    ec_close(&worker);
    fx_stop(&fx);
}

Test(workers, no_storage_runs_a_job_on_the_private_cluster, .timeout = 180)
{
    struct daemon_proc d;
    cr_assert_eq(daemon_proc_init(&d), 0);
    /* As root the cluster runs as postgres, which must be able to reach the state dir. */
    cr_assert_eq(chmod(d.dir, 0711), 0);
    struct daemon_opts o = {.private_storage = true};
    cr_assert_eq(daemon_proc_start(&d, &o), 0);
    cr_assert(daemon_proc_wait_log(&d, "job engine ready", 120000),
              "the private cluster did not start");
    struct ec app, worker;
    cr_assert_eq(ec_open(&app, d.socket), 0);
    cr_assert_eq(ec_open(&worker, d.socket), 0);
    cr_assert_eq(ec_register(&worker, "p", 1), 0);
    int64_t id = ec_enqueue_name(&app, "p");
    cr_assert_gt(id, 0);
    struct wire_reply m;
    cr_assert_eq(ec_next(&worker, RS_MSG_DISPATCH, T, &m), 0);
    wire_reply_free(&m);
    cr_assert_eq(ec_ack(&worker, (uint64_t)id, 1, true, "p!", false, NULL, 0), 0);
    cr_assert_eq(ec_call(&app, RS_MSG_AWAIT, (uint64_t)id, T, &m), 0);
    cr_expect_eq(m.msg.u.completed.status, RS_STATUS_SUCCESS);
    wire_reply_free(&m);
    ec_close(&app);
    ec_close(&worker);
    cr_expect(daemon_proc_log_has(&d, "storage: private cluster in"));
    int st = daemon_proc_stop(&d);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %#x", st);
    cr_expect(daemon_proc_log_has(&d, "stopping the private PostgreSQL cluster"));
    daemon_proc_cleanup(&d);
}
