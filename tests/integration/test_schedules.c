/*
 * Cron schedules against the real reseoliod and PostgreSQL, through the protocol: create
 * (idempotent), fire on time, exactly once with two daemons on one database, missed runs
 * after a restart made once, pause/resume/delete, the time zone, bad cron and zone.
 *
 * Time: the daemons run with RESEOLIO_DEBUG_SCHEDULE_CLOCK_SCALE=60 (docs/operations.md,
 * "Schedules"): schedule time runs 60 times faster, so "* * * * *" fires every real second.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon_proc.h"
#include "pgtest.h"
#include "reseolio.h"
#include "wire.h"

#define SCALE_ENV "RESEOLIO_DEBUG_SCHEDULE_CLOCK_SCALE=60"
#define MINUTE_MS 60000

static char *db;
static uint32_t rid = 100;

/* A daemon on this test's database; fast schedule clock unless real_clock. */
static void daemon_up(struct daemon_proc *d, bool real_clock)
{
    static const char *const env[] = {SCALE_ENV, NULL};
    const char *args[] = {"--storage", db, "--log-level", "debug", NULL};
    struct daemon_opts o = {.args = args, .env = real_clock ? NULL : env};
    cr_assert_eq(daemon_proc_init(d), 0);
    cr_assert_eq(daemon_proc_start(d, &o), 0, "reseoliod did not get ready");
}

static void daemon_down(struct daemon_proc *d)
{
    int st = daemon_proc_stop(d);
    daemon_proc_cleanup(d);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "reseoliod exit status %#x", st);
}

static int client(struct daemon_proc *d)
{
    int fd = wire_connect(d->socket);
    cr_assert_geq(fd, 0);
    cr_assert_eq(wire_handshake(fd), 0);
    return fd;
}

/* Send m, read its reply into r (1 when read). */
static void call(int fd, struct rs_msg *m, struct wire_reply *r)
{
    m->request_id = ++rid;
    cr_assert_eq(wire_send_msg(fd, m), 0);
    cr_assert_eq(wire_recv(fd, WIRE_TIMEOUT_MS, r), 1, "no reply to %s", rs_msg_type_name(m->type));
    cr_assert_eq(r->msg.request_id, rid);
}

static struct rs_str str(const char *s)
{
    return (struct rs_str){s, (uint32_t)strlen(s)};
}

/* SCHEDULE_PUT; expects SCHEDULE unless want_error. */
static void put(int fd, const char *name, const char *cron, const char *zone,
                const char *want_error, struct wire_reply *r)
{
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_SCHEDULE_PUT;
    m.u.schedule.name = str(name);
    m.u.schedule.function = str("tick");
    m.u.schedule.cron = str(cron);
    if (zone != NULL)
        m.u.schedule.zone = str(zone);
    m.u.schedule.args = (struct rs_bytes){(const uint8_t *)"\x91\x07", 2};
    m.u.schedule.has |= RS_HAS_MAX_ATTEMPTS;
    m.u.schedule.max_attempts = 2;
    call(fd, &m, r);
    if (want_error != NULL) {
        cr_assert(wire_is_error(r, want_error), "SCHEDULE_PUT %s %s: expected %s, got %s", cron,
                  zone ? zone : "", want_error, rs_msg_type_name(r->msg.type));
        return;
    }
    cr_assert_eq(r->msg.type, RS_MSG_SCHEDULE, "SCHEDULE_PUT: got %s%s%.*s",
                 rs_msg_type_name(r->msg.type), r->msg.type == RS_MSG_ERROR ? ": " : "",
                 r->msg.type == RS_MSG_ERROR ? (int)r->msg.u.error.message.len : 0,
                 r->msg.type == RS_MSG_ERROR ? r->msg.u.error.message.ptr : "");
}

/* A schedule request by name. */
static void by_name(int fd, enum rs_msg_type type, const char *name, struct wire_reply *r)
{
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.u.sref.name = str(name);
    call(fd, &m, r);
}

/* The due times (from the keys) of the jobs of "tick" made by schedule name, ascending. */
static size_t runs(int fd, const char *name, int64_t *due, size_t max)
{
    struct rs_msg m;
    struct wire_reply r;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_LIST;
    m.u.list.name = str("tick");
    m.u.list.has |= RS_HAS_LIMIT;
    m.u.list.limit = 1000;
    call(fd, &m, &r);
    cr_assert_eq(r.msg.type, RS_MSG_JOBS);
    char prefix[256];
    snprintf(prefix, sizeof(prefix), "schedule:%s:", name);
    size_t n = 0;
    for (uint32_t i = r.msg.u.jobs.njobs; i-- > 0 && n < max;) {
        const struct rs_job *j = &r.msg.u.jobs.jobs[i];
        cr_assert_not_null(j->key.ptr, "a scheduled job without a key");
        char key[256];
        snprintf(key, sizeof(key), "%.*s", (int)j->key.len, j->key.ptr);
        if (strncmp(key, prefix, strlen(prefix)) != 0)
            continue;
        cr_expect_eq(j->max_attempts, 2);
        cr_expect_eq(j->args.len, 2);
        due[n++] = strtoll(key + strlen(prefix), NULL, 10);
    }
    wire_reply_free(&r);
    for (size_t i = 1; i < n; i++)
        cr_assert_lt(due[i - 1], due[i], "runs out of order or repeated");
    return n;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void setup(void)
{
    db = pgtest_create_db("schedules");
    cr_assert_not_null(db);
}

static void teardown(void)
{
    free(db);
}

TestSuite(schedules, .init = setup, .fini = teardown, .timeout = 120);

Test(schedules, fires_on_time_and_create_is_idempotent)
{
    struct daemon_proc d;
    struct wire_reply r, r2;
    daemon_up(&d, false);
    int fd = client(&d);
    put(fd, "every", "* * * * *", NULL, NULL, &r);
    const struct rs_schedule *s = &r.msg.u.schedule;
    cr_expect_eq(s->zone.len, 3, "zone defaults to UTC");
    cr_expect(!s->paused);
    cr_assert(s->has & RS_HAS_NEXT_RUN_AT);
    cr_expect_eq(s->next_run_at % MINUTE_MS, 0, "next_run_at is a whole minute");
    /* The same PUT again (an application started twice): one schedule, same next run. */
    put(fd, "every", "* * * * *", NULL, NULL, &r2);
    cr_expect_eq(r2.msg.u.schedule.created_at, s->created_at);
    cr_expect_eq(r2.msg.u.schedule.next_run_at, s->next_run_at);
    wire_reply_free(&r2);
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_SCHEDULE_LIST;
    call(fd, &m, &r2);
    cr_assert_eq(r2.msg.type, RS_MSG_SCHEDULES);
    cr_expect_eq(r2.msg.u.schedules.nschedules, 1);
    wire_reply_free(&r2);

    sleep_ms(4500); /* four and a half schedule minutes */
    int64_t due[64];
    size_t n = runs(fd, "every", due, 64);
    cr_expect_geq(n, 3, "only %zu runs in 4.5 schedule minutes", n);
    cr_expect_leq(n, 6, "%zu runs in 4.5 schedule minutes", n);
    cr_expect_eq(due[0], s->next_run_at, "the first run is the announced next run");
    for (size_t i = 1; i < n; i++)
        cr_expect_eq(due[i] - due[i - 1], MINUTE_MS, "run %zu is not one minute after the last", i);
    by_name(fd, RS_MSG_SCHEDULE_GET, "every", &r2);
    cr_assert_eq(r2.msg.type, RS_MSG_SCHEDULE);
    cr_expect(r2.msg.u.schedule.has & RS_HAS_LAST_RUN_AT);
    wire_reply_free(&r2);
    wire_reply_free(&r);
    close(fd);
    daemon_down(&d);
}

Test(schedules, exactly_once_across_two_daemons)
{
    struct daemon_proc a, b;
    struct wire_reply r;
    daemon_up(&a, false);
    daemon_up(&b, false);
    int fa = client(&a);
    put(fa, "both", "* * * * *", "Europe/Berlin", NULL, &r);
    wire_reply_free(&r);
    sleep_ms(5500);
    int64_t due[64];
    size_t n = runs(fa, "both", due, 64);
    cr_expect_geq(n, 4, "only %zu runs", n);
    for (size_t i = 1; i < n; i++)
        cr_expect_eq(due[i] - due[i - 1], MINUTE_MS, "a run was skipped or made twice");
    /* Both daemons raced for the runs; the guard let one make each. */
    cr_expect(daemon_proc_log_has(&a, "schedules: run made") ||
                  daemon_proc_log_has(&b, "schedules: run made"),
              "no daemon made a run");
    close(fa);
    daemon_down(&a);
    daemon_down(&b);
}

Test(schedules, missed_runs_after_a_restart_run_once)
{
    struct daemon_proc d;
    struct wire_reply r;
    daemon_up(&d, false);
    int fd = client(&d);
    put(fd, "restart", "* * * * *", NULL, NULL, &r);
    wire_reply_free(&r);
    sleep_ms(2500);
    int64_t before[64], after[64];
    size_t nb = runs(fd, "restart", before, 64);
    cr_assert_geq(nb, 1);
    close(fd);
    daemon_down(&d);
    sleep_ms(4000); /* about four schedule minutes with no daemon */
    daemon_up(&d, false);
    fd = client(&d);
    sleep_ms(300);
    size_t na = runs(fd, "restart", after, 64);
    /* The catch-up run may already be followed by the next regular one (the scaled clock
     * makes a schedule minute one real second), so count the gap, not the runs. */
    cr_assert_geq(na, nb + 1, "after the restart: %zu runs, expected more than %zu", na, nb);
    for (size_t i = 0; i < nb; i++)
        cr_assert_eq(after[i], before[i], "a run made before the restart changed");
    cr_expect_geq(after[nb] - before[nb - 1], 3 * MINUTE_MS,
                  "the missed runs were not skipped: one for the most recent only");
    for (size_t i = nb + 1; i < na; i++)
        cr_expect_eq(after[i] - after[i - 1], MINUTE_MS,
                     "after the catch-up run: skipped or twice");
    sleep_ms(2000);
    na = runs(fd, "restart", after, 64);
    cr_expect_geq(na, nb + 2, "the schedule did not continue after the restart");
    close(fd);
    daemon_down(&d);
}

Test(schedules, pause_resume_delete)
{
    struct daemon_proc d;
    struct wire_reply r;
    daemon_up(&d, false);
    int fd = client(&d);
    put(fd, "pr", "* * * * *", NULL, NULL, &r);
    wire_reply_free(&r);
    by_name(fd, RS_MSG_SCHEDULE_PAUSE, "pr", &r);
    cr_assert_eq(r.msg.type, RS_MSG_SCHEDULE);
    cr_expect(r.msg.u.schedule.paused);
    cr_expect(!(r.msg.u.schedule.has & RS_HAS_NEXT_RUN_AT), "a paused schedule has no next run");
    wire_reply_free(&r);
    /* An application restart does not resume what an operator paused. */
    put(fd, "pr", "* * * * *", NULL, NULL, &r);
    cr_expect(r.msg.u.schedule.paused);
    wire_reply_free(&r);
    int64_t due[64];
    size_t n0 = runs(fd, "pr", due, 64);
    sleep_ms(2500);
    cr_expect_eq(runs(fd, "pr", due, 64), n0, "a paused schedule ran");
    by_name(fd, RS_MSG_SCHEDULE_RESUME, "pr", &r);
    cr_assert_eq(r.msg.type, RS_MSG_SCHEDULE);
    cr_expect(!r.msg.u.schedule.paused);
    cr_expect(r.msg.u.schedule.has & RS_HAS_NEXT_RUN_AT);
    wire_reply_free(&r);
    sleep_ms(2500);
    size_t n1 = runs(fd, "pr", due, 64);
    cr_expect_gt(n1, n0, "a resumed schedule did not run");
    by_name(fd, RS_MSG_SCHEDULE_DELETE, "pr", &r);
    cr_expect_eq(r.msg.type, RS_MSG_OK);
    wire_reply_free(&r);
    by_name(fd, RS_MSG_SCHEDULE_GET, "pr", &r);
    cr_expect(wire_is_error(&r, "not_found"));
    wire_reply_free(&r);
    sleep_ms(2000);
    size_t n2 = runs(fd, "pr", due, 64);
    cr_expect_leq(n2, n1 + 1, "a deleted schedule kept running");
    by_name(fd, RS_MSG_SCHEDULE_PAUSE, "nope", &r);
    cr_expect(wire_is_error(&r, "not_found"));
    wire_reply_free(&r);
    close(fd);
    daemon_down(&d);
}

Test(schedules, zone_honoured_and_bad_input_refused)
{
    struct daemon_proc d;
    struct wire_reply r;
    daemon_up(&d, true);
    int fd = client(&d);
    put(fd, "ny", "0 9 * * *", "America/New_York", NULL, &r);
    cr_assert(r.msg.u.schedule.has & RS_HAS_NEXT_RUN_AT);
    time_t t = (time_t)(r.msg.u.schedule.next_run_at / 1000);
    wire_reply_free(&r);
    setenv("TZ", "America/New_York", 1);
    tzset();
    struct tm tm;
    localtime_r(&t, &tm);
    cr_expect_eq(tm.tm_hour, 9, "next run at %d:%02d in New York", tm.tm_hour, tm.tm_min);
    cr_expect_eq(tm.tm_min, 0);
    unsetenv("TZ");
    tzset();
    cr_expect_gt((int64_t)t * 1000, (int64_t)time(NULL) * 1000 - 1000);

    put(fd, "bad", "* * * * *", "Mars/Olympus_Mons", "bad_value", &r);
    cr_expect(strstr(r.msg.u.error.message.ptr, "zone") != NULL, "message: %.*s",
              (int)r.msg.u.error.message.len, r.msg.u.error.message.ptr);
    wire_reply_free(&r);
    put(fd, "bad", "61 * * * *", NULL, "bad_value", &r);
    cr_expect(strstr(r.msg.u.error.message.ptr, "cron") != NULL);
    wire_reply_free(&r);
    put(fd, "bad", "0 0 30 2 *", NULL, "bad_value", &r);
    wire_reply_free(&r);
    by_name(fd, RS_MSG_SCHEDULE_GET, "bad", &r);
    cr_expect(wire_is_error(&r, "not_found"), "a refused schedule was stored");
    wire_reply_free(&r);
    close(fd);
    daemon_down(&d);
}

Test(schedules, c_client_calls)
{
    struct daemon_proc d;
    daemon_up(&d, false);
    struct rs_client_opts co;
    rs_client_opts_init(&co);
    struct rs_client *c = NULL;
    char *err = NULL;
    cr_assert_eq(rs_client_connect(d.socket, &co, &c, &err), RS_CLIENT_OK, "%s", err ? err : "");
    struct rs_schedule_opts o;
    rs_schedule_opts_init(&o);
    o.zone = "Europe/Berlin";
    o.job.max_attempts = 4;
    o.job.backoff = RS_CLIENT_BACKOFF_LINEAR;
    struct rs_schedule_info *s = NULL;
    cr_assert_eq(rs_schedule_put(c, "c-api", "tick", "@hourly", &o, &s), RS_CLIENT_OK, "%s",
                 rs_client_errmsg(c));
    cr_expect_str_eq(s->zone, "Europe/Berlin");
    cr_expect_eq(s->max_attempts, 4);
    cr_expect_eq(s->backoff, RS_CLIENT_BACKOFF_LINEAR);
    cr_expect_gt(s->next_run_at, 0);
    rs_schedule_info_free(s);
    o.zone = "Not/AZone";
    cr_expect_eq(rs_schedule_put(c, "c-bad", "tick", "@hourly", &o, &s), RS_CLIENT_E_SERVER);
    cr_expect_str_eq(rs_client_error_code(c), "bad_value");
    cr_assert_eq(rs_schedule_pause(c, "c-api", &s), RS_CLIENT_OK);
    cr_expect(s->paused);
    cr_expect_eq(s->next_run_at, 0);
    rs_schedule_info_free(s);
    cr_assert_eq(rs_schedule_resume(c, "c-api", NULL), RS_CLIENT_OK);
    cr_assert_eq(rs_schedule_get(c, "c-api", &s), RS_CLIENT_OK);
    cr_expect(!s->paused);
    rs_schedule_info_free(s);
    struct rs_schedule_page *p = NULL;
    cr_assert_eq(rs_schedule_list(c, NULL, 0, &p), RS_CLIENT_OK);
    cr_expect_eq(p->count, 1);
    cr_expect_null(p->next);
    rs_schedule_page_free(p);
    cr_assert_eq(rs_schedule_delete(c, "c-api"), RS_CLIENT_OK);
    cr_expect_eq(rs_schedule_get(c, "c-api", &s), RS_CLIENT_E_SERVER);
    cr_expect_str_eq(rs_client_error_code(c), "not_found");
    rs_client_close(c);
    daemon_down(&d);
}
