/*
 * The metrics endpoint of the real daemon: its counters match the jobs that were run (with
 * failures, a deduplicated enqueue and queued jobs), /healthz follows PostgreSQL, and bad HTTP
 * requests do not hurt the daemon. Scraped with a plain-socket HTTP client.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fixture.h"
#include "httpget.h"
#include "pgtest.h"

#define T 10000

static struct fixture fx;
static char maddr[108];

static void stop(void)
{
    fx_stop(&fx);
    unlink(maddr);
}

/* The daemon with its metrics on a Unix socket of this test. */
static void start(const char *prefix)
{
    snprintf(maddr, sizeof(maddr), "/tmp/rs-metrics-%ld.sock", (long)getpid());
    const char *extra[] = {"--metrics-addr", maddr, NULL};
    fx_start(&fx, prefix, extra);
}

/* Scrape /metrics; fails the test unless 200. */
static char *scrape(void)
{
    char *body = NULL;
    int code = httpget(maddr, "/metrics", &body);
    cr_assert_eq(code, 200, "GET /metrics answered %d", code);
    return body;
}

static double series(const char *text, const char *name, const char *fn)
{
    char s[256];
    snprintf(s, sizeof(s), "%s{function=\"%s\"}", name, fn);
    return httpget_metric(text, s);
}

/* Enqueue name with max_attempts 1 and optionally a key. */
static int64_t enqueue(struct ec *c, const char *name, const char *key, bool *dedup)
{
    struct rs_enqueue e;
    memset(&e, 0, sizeof(e));
    e.name = (struct rs_str){name, (uint32_t)strlen(name)};
    if (key != NULL)
        e.key = (struct rs_str){key, (uint32_t)strlen(key)};
    e.has |= RS_HAS_MAX_ATTEMPTS;
    e.max_attempts = 1;
    return ec_enqueue(c, &e, dedup, NULL, 0);
}

Test(metrics, counters_match_the_jobs_run, .fini = stop)
{
    start("metrics1");
    struct ec app, worker;
    fx_client(&fx, &app);
    fx_client(&fx, &worker);
    cr_assert_eq(ec_register(&worker, "m:ok", 8), 0);
    cr_assert_eq(ec_register(&worker, "m:bad", 8), 0);

    enum { NOK = 7, NBAD = 3, NIDLE = 2 };
    bool dedup = false;
    cr_assert_gt(enqueue(&app, "m:ok", "k1", &dedup), 0);
    cr_assert_not(dedup);
    for (int i = 1; i < NOK; i++)
        cr_assert_gt(enqueue(&app, "m:ok", NULL, NULL), 0);
    cr_assert_gt(enqueue(&app, "m:ok", "k1", &dedup), 0);
    cr_assert(dedup);
    for (int i = 0; i < NBAD; i++)
        cr_assert_gt(enqueue(&app, "m:bad", NULL, NULL), 0);
    for (int i = 0; i < NIDLE; i++)
        cr_assert_gt(enqueue(&app, "m:idle", NULL, NULL), 0);

    for (int done = 0; done < NOK + NBAD; done++) {
        struct wire_reply d;
        cr_assert_eq(ec_next(&worker, RS_MSG_DISPATCH, T, &d), 0, "only %d dispatched", done);
        bool ok = d.msg.u.dispatch.name.len == 4; /* "m:ok" */
        cr_assert_eq(ec_ack(&worker, d.msg.u.dispatch.job, d.msg.u.dispatch.attempt, ok,
                            ok ? NULL : "boom", true, NULL, 0),
                     0);
        wire_reply_free(&d);
    }

    char *m = scrape();
    cr_expect_eq(series(m, "reseolio_jobs_enqueued_total", "m:ok"), NOK);
    cr_expect_eq(series(m, "reseolio_jobs_deduplicated_total", "m:ok"), 1);
    cr_expect_eq(series(m, "reseolio_jobs_started_total", "m:ok"), NOK);
    cr_expect_eq(series(m, "reseolio_jobs_succeeded_total", "m:ok"), NOK);
    cr_expect_eq(series(m, "reseolio_jobs_failed_total", "m:ok"), 0);
    cr_expect_eq(series(m, "reseolio_jobs_enqueued_total", "m:bad"), NBAD);
    cr_expect_eq(series(m, "reseolio_jobs_started_total", "m:bad"), NBAD);
    cr_expect_eq(series(m, "reseolio_jobs_succeeded_total", "m:bad"), 0);
    cr_expect_eq(series(m, "reseolio_jobs_failed_total", "m:bad"), NBAD);
    cr_expect_eq(series(m, "reseolio_jobs_dead_total", "m:bad"), NBAD);
    cr_expect_eq(series(m, "reseolio_jobs_enqueued_total", "m:idle"), NIDLE);
    cr_expect_eq(series(m, "reseolio_jobs_started_total", "m:idle"), 0);
    cr_expect_eq(series(m, "reseolio_attempt_duration_seconds_count", "m:ok"), NOK);
    cr_expect_eq(series(m, "reseolio_attempt_duration_seconds_count", "m:bad"), NBAD);
    cr_expect_eq(httpget_metric(m, "reseolio_attempt_duration_seconds_bucket{function=\"m:ok\","
                                   "le=\"+Inf\"}"),
                 NOK);
    cr_expect_eq(httpget_metric(m, "reseolio_queue_jobs{function=\"m:idle\",status=\"pending\"}"),
                 NIDLE);
    cr_expect_eq(httpget_metric(m, "reseolio_queue_jobs{function=\"m:idle\",status=\"running\"}"),
                 0);
    cr_expect_eq(httpget_metric(m, "reseolio_queue_jobs{function=\"m:ok\",status=\"pending\"}"), -1,
                 "no queued m:ok job is left");
    cr_expect_eq(httpget_metric(m, "reseolio_connections"), 2);
    cr_expect_geq(httpget_metric(m, "reseolio_connections_total"), 2);
    cr_expect_gt(httpget_metric(m, "reseolio_frames_received_total"), NOK + NBAD);
    cr_expect_gt(httpget_metric(m, "reseolio_pg_round_trips_total"), 0);
    cr_expect_eq(httpget_metric(m, "reseolio_storage_up"), 1);
    cr_expect_eq(httpget_metric(m, "reseolio_waiters"), 0);
    cr_expect_eq(httpget_metric(m, "reseolio_functions_tracked"), 3);
    free(m);

    /* An ERROR is counted by its code. */
    char err[64];
    cr_assert_neq(ec_ack(&worker, 999999, 1, true, NULL, true, err, sizeof(err)), 0);
    m = scrape();
    cr_expect_eq(httpget_metric(m, "reseolio_protocol_errors_total{code=\"stale_attempt\"}"), 1);
    free(m);
    ec_close(&app);
    ec_close(&worker);
}

/* An attempt handed back unfinished (ACK release) is no attempt duration: the histogram
 * counts the attempt that ran to its end only. */
Test(metrics, a_released_attempt_is_not_timed, .fini = stop)
{
    start("metrics_rel");
    struct ec app, worker;
    fx_client(&fx, &app);
    fx_client(&fx, &worker);
    cr_assert_eq(ec_register(&worker, "m:rel", 1), 0);
    int64_t id = enqueue(&app, "m:rel", NULL, NULL);
    cr_assert_gt(id, 0);
    struct wire_reply d;
    cr_assert_eq(ec_next(&worker, RS_MSG_DISPATCH, T, &d), 0);
    uint64_t attempt = d.msg.u.dispatch.attempt;
    wire_reply_free(&d);
    cr_assert_eq(ec_release(&worker, (uint64_t)id, attempt, NULL, 0), 0);
    cr_assert_eq(ec_next(&worker, RS_MSG_DISPATCH, T, &d), 0, "the released job did not run again");
    cr_assert_eq(d.msg.u.dispatch.job, (uint64_t)id);
    cr_assert_eq(
        ec_ack(&worker, (uint64_t)id, d.msg.u.dispatch.attempt, true, NULL, false, NULL, 0), 0);
    wire_reply_free(&d);
    char *m = scrape();
    cr_expect_eq(series(m, "reseolio_jobs_started_total", "m:rel"), 2);
    cr_expect_eq(series(m, "reseolio_jobs_succeeded_total", "m:rel"), 1);
    cr_expect_eq(series(m, "reseolio_attempt_duration_seconds_count", "m:rel"), 1);
    free(m);
    ec_close(&app);
    ec_close(&worker);
}

Test(metrics, healthz_follows_postgresql, .fini = stop)
{
    start("metrics2");
    char *body = NULL;
    int code = 0;
    /* "job engine ready" comes before the session is set up: wait for it. */
    for (int i = 0; i < 200 && code != 200; i++) {
        free(body);
        body = NULL;
        code = httpget(maddr, "/healthz", &body);
        if (code != 200)
            usleep(50 * 1000);
    }
    cr_assert_eq(code, 200, "healthz: %d %s", code, body != NULL ? body : "");
    cr_expect(strncmp(body, "ok", 2) == 0, "body: %s", body);
    free(body);
    body = NULL;

    cr_assert_eq(pgtest_stop(), 0);
    code = 0;
    for (int i = 0; i < 100 && code != 503; i++) {
        /* The daemon notices a lost session at its next statement: the sweep, or a scrape. */
        free(body);
        body = NULL;
        char *m = NULL;
        (void)httpget(maddr, "/metrics", &m);
        free(m);
        code = httpget(maddr, "/healthz", &body);
        if (code != 503)
            usleep(100 * 1000);
    }
    cr_expect_eq(code, 503);
    cr_expect(body != NULL && strstr(body, "storage") != NULL, "body: %s", body);
    cr_expect(body != NULL && strchr(body, '\n') == body + strlen(body) - 1, "one line");
    free(body);
    body = NULL;
    char *m = scrape(); /* answers with the cached queue count while PostgreSQL is down */
    cr_expect_eq(httpget_metric(m, "reseolio_storage_up"), 0);
    free(m);

    cr_assert_eq(pgtest_start(), 0);
    for (int i = 0; i < 200 && code != 200; i++) {
        free(body);
        body = NULL;
        code = httpget(maddr, "/healthz", &body);
        if (code != 200)
            usleep(100 * 1000);
    }
    cr_expect_eq(code, 200);
    free(body);
}

Test(metrics, bad_requests_do_not_hurt, .fini = stop)
{
    start("metrics3");
    char *out = NULL;
    static const char *const bad[] = {
        "garbage\r\n\r\n",
        "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /metrics HTTP/9.9\r\n\r\n",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int code = httpget_raw(maddr, bad[i], strlen(bad[i]), &out);
        cr_expect(code != 200, "request %zu answered 200", i);
        free(out);
        out = NULL;
    }
    /* Headers over the cap. */
    size_t big = 64 * 1024;
    char *req = malloc(big + 64);
    int n = snprintf(req, 64, "GET /metrics HTTP/1.1\r\nX-Big: ");
    memset(req + n, 'a', big);
    memcpy(req + n + big, "\r\n\r\n", 5);
    int code = httpget_raw(maddr, req, strlen(req), &out);
    cr_expect(code != 200, "oversized headers answered %d", code);
    free(out);
    free(req);
    /* A client that connects and says nothing is dropped after the timeout; meanwhile others
     * are served. */
    char *body = NULL;
    cr_expect_eq(httpget(maddr, "/healthz", &body), 200);
    free(body);
    struct ec c;
    fx_client(&fx, &c);
    struct rs_msg ping;
    memset(&ping, 0, sizeof(ping));
    ping.type = RS_MSG_PING;
    uint32_t rid = ec_send(&c, &ping);
    struct wire_reply r;
    cr_assert_eq(ec_reply(&c, rid, T, &r), 0);
    cr_expect_eq(r.msg.type, RS_MSG_PONG);
    wire_reply_free(&r);
    ec_close(&c);
}

/* Scrape until series of fn reaches want (the counters move when the store commits, which a
 * client cannot await), bounded; returns the last scrape. */
static char *scrape_until(const char *name, const char *fn, double want)
{
    char *m = NULL;
    for (int i = 0; i < 200; i++) {
        free(m);
        m = scrape();
        if (series(m, name, fn) >= want)
            break;
        usleep(50 * 1000);
    }
    return m;
}

/* An attempt that passes its deadline is counted as timed out when the daemon expires it, and
 * the job it leaves dead (its last attempt) as dead; not as failed, which counts ACKs. */
Test(metrics, timeouts_are_counted_with_the_dead_they_make, .fini = stop)
{
    start("metrics4");
    struct ec app, worker;
    fx_client(&fx, &app);
    fx_client(&fx, &worker);
    cr_assert_eq(ec_register(&worker, "m:slow", 4), 0);
    enum { NSLOW = 2 };
    for (int i = 0; i < NSLOW; i++) {
        struct rs_enqueue e;
        memset(&e, 0, sizeof(e));
        e.name = RS_STR("m:slow");
        e.has |= RS_HAS_MAX_ATTEMPTS | RS_HAS_TIMEOUT;
        e.max_attempts = i == 0 ? 1 : 2; /* the first dies of its timeout, the second retries */
        e.timeout_ms = 200;
        cr_assert_gt(ec_enqueue(&app, &e, NULL, NULL, 0), 0);
    }
    /* Never ACK: each attempt ends with ABANDON timeout. */
    for (int i = 0; i < NSLOW; i++) {
        struct wire_reply a;
        cr_assert_eq(ec_next(&worker, RS_MSG_ABANDON, T, &a), 0, "ABANDON %d", i);
        cr_expect_eq(a.msg.u.abandon.reason, RS_ABANDON_TIMEOUT);
        wire_reply_free(&a);
    }
    char *m = scrape_until("reseolio_jobs_timed_out_total", "m:slow", NSLOW);
    cr_expect_eq(series(m, "reseolio_jobs_timed_out_total", "m:slow"), NSLOW);
    cr_expect_eq(series(m, "reseolio_jobs_dead_total", "m:slow"), 1);
    cr_expect_eq(series(m, "reseolio_jobs_failed_total", "m:slow"), 0);
    cr_expect_eq(series(m, "reseolio_jobs_reclaimed_total", "m:slow"), 0);
    free(m);
    ec_close(&app);
    ec_close(&worker);
}

/* A worker that goes away on a job's last attempt leaves it dead: counted as dead (not as a
 * failed ACK). */
Test(metrics, a_worker_gone_on_the_last_attempt_counts_dead, .fini = stop)
{
    start("metrics7");
    struct ec app, worker;
    fx_client(&fx, &app);
    fx_client(&fx, &worker);
    cr_assert_eq(ec_register(&worker, "m:gone", 1), 0);
    cr_assert_gt(enqueue(&app, "m:gone", NULL, NULL), 0); /* max_attempts 1 */
    struct wire_reply d;
    cr_assert_eq(ec_next(&worker, RS_MSG_DISPATCH, T, &d), 0);
    wire_reply_free(&d);
    ec_close(&worker);
    char *m = scrape_until("reseolio_jobs_dead_total", "m:gone", 1);
    cr_expect_eq(series(m, "reseolio_jobs_dead_total", "m:gone"), 1);
    cr_expect_eq(series(m, "reseolio_jobs_started_total", "m:gone"), 1);
    cr_expect_eq(series(m, "reseolio_jobs_failed_total", "m:gone"), 0);
    free(m);
    ec_close(&app);
}

/* A running job whose daemon stopped heartbeating is reclaimed by this one: counted as
 * reclaimed under its function, and as dead when that was its last attempt. */
Test(metrics, reclaimed_attempts_are_counted, .fini = stop)
{
    snprintf(maddr, sizeof(maddr), "/tmp/rs-metrics-%ld.sock", (long)getpid());
    const char *extra[] = {"--metrics-addr", maddr, "--heartbeat-ms", "200", NULL};
    fx_start(&fx, "metrics5", extra);
    /* Two jobs "running" under a node that has no heartbeat row: one on its last attempt. */
    cr_assert_eq(fx_int(&fx, "WITH ins AS (INSERT INTO reseolio.jobs (name, status, attempt,"
                             " max_attempts, run_at, created_at, started_at, lease_node,"
                             " lease_expires_at) SELECT 'm:lost', 'running', 1, m, now(), now(),"
                             " now(), '00000000-0000-0000-0000-0000000000ab',"
                             " now() + interval '1 hour' FROM (VALUES (1), (3)) v(m)"
                             " RETURNING 1) SELECT count(*) FROM ins"),
                 2);
    char *m = scrape_until("reseolio_jobs_reclaimed_total", "m:lost", 2);
    cr_expect_eq(series(m, "reseolio_jobs_reclaimed_total", "m:lost"), 2);
    cr_expect_eq(series(m, "reseolio_jobs_dead_total", "m:lost"), 1);
    cr_expect_eq(series(m, "reseolio_jobs_timed_out_total", "m:lost"), 0);
    free(m);
    cr_expect_eq(fx_int(&fx, "SELECT count(*) FROM reseolio.jobs WHERE name = 'm:lost'"
                             " AND status = 'dead'"),
                 1);
}

/* A connection to the metrics socket, not yet sending anything. */
static int metrics_connect(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", maddr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* Read what the server sends on fd within ms: the byte count, 0 at EOF, -1 when nothing came
 * (the connection is still open). */
static ssize_t metrics_read(int fd, char *buf, size_t size, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0)
        return -1;
    return read(fd, buf, size);
}

/* At most METRICS_HTTP_MAX_CONNS (16) connections are open at once: one more is closed at
 * once, the open ones are still served, and once some end new ones are served again. */
Test(metrics, connections_over_the_cap_are_closed, .fini = stop)
{
    enum { CAP = 16 };
    start("metrics6");
    int fds[CAP];
    for (int i = 0; i < CAP; i++)
        fds[i] = metrics_connect();
    /* The last of those is accepted only when the daemon gets to it: the healthz below goes
     * through all of them first, so wait for the over-cap one to be closed. */
    char buf[4096];
    int extra = metrics_connect();
    cr_expect_eq(metrics_read(extra, buf, sizeof(buf), 5000), 0, "over the cap: closed");
    close(extra);

    /* The open ones are still served. */
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    cr_assert_eq(write(fds[0], req, sizeof(req) - 1), (ssize_t)(sizeof(req) - 1));
    ssize_t n = metrics_read(fds[0], buf, sizeof(buf) - 1, 5000);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
    /* 200, or 503 while the daemon's PostgreSQL session is still being set up */
    cr_expect(strncmp(buf, "HTTP/1.1 200", 12) == 0 || strncmp(buf, "HTTP/1.1 503", 12) == 0, "%s",
              buf);
    close(fds[0]);
    for (int i = 1; i < CAP / 2; i++)
        close(fds[i]);

    /* Slots are free again (after the server noticed): a plain GET is answered. */
    int code = -1;
    char *body = NULL;
    for (int i = 0; i < 200 && code != 200; i++) {
        free(body);
        body = NULL;
        code = httpget(maddr, "/healthz", &body);
        if (code != 200)
            usleep(50 * 1000);
    }
    cr_expect_eq(code, 200);
    free(body);
    for (int i = CAP / 2; i < CAP; i++)
        close(fds[i]);
}
