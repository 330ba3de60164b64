/*
 * `reseolio schedules ...` against the real reseoliod on a fresh PostgreSQL database per
 * test: create (idempotent), show, list, pause, resume, delete, their JSON parsed and their
 * text looked at; the daemon's refusals (bad cron, bad zone, no such schedule) exit 1.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "clirun.h"
#include "daemon_proc.h"
#include "pgtest.h"

static struct daemon_proc dmn;
static char *db;

/* A daemon on a database of this test's own. */
static void start(void)
{
    db = pgtest_create_db("clisched");
    cr_assert_not_null(db);
    const char *args[] = {"--storage", db, NULL};
    struct daemon_opts o = {.args = args};
    cr_assert_eq(daemon_proc_init(&dmn), 0);
    cr_assert_eq(daemon_proc_start(&dmn, &o), 0, "reseoliod did not get ready");
}

static void stop(void)
{
    int st = daemon_proc_stop(&dmn);
    daemon_proc_cleanup(&dmn);
    free(db);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "reseoliod exit status %#x", st);
}

TestSuite(cli_schedules, .init = start, .fini = stop, .timeout = 120);

#define RUN(r, ...)                                                                                \
    clirun_argv((r), (const char *const[]){"--socket", dmn.socket, __VA_ARGS__, NULL}, NULL)

#define RUN_JSON(...)                                                                              \
    run_json((const char *const[]){"--socket", dmn.socket, "--json", __VA_ARGS__, NULL})

static json_t *run_json(const char *const *argv)
{
    struct clirun r;
    clirun_argv(&r, argv, NULL);
    clirun_expect_ok(&r);
    cr_assert_eq(r.status, 0, "reseolio %s %s failed: %s", argv[3], argv[4], r.err);
    json_t *j = clirun_json(&r);
    clirun_free(&r);
    return j;
}

static const char *str(const json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    cr_assert_not_null(s, "no string %s", key);
    return s;
}

/* create prints the schedule as stored, defaults filled in; a second create updates it. */
Test(cli_schedules, create_show_idempotent)
{
    json_t *s =
        RUN_JSON("schedules", "create", "nightly", "--function", "cli:report", "--cron",
                 "30 2 * * *", "--zone", "Europe/Berlin", "--args", "[1, \"a\"]", "--max-attempts",
                 "5", "--backoff", "fixed", "--priority", "7", "--timeout", "60000");
    cr_expect_str_eq(str(s, "name"), "nightly");
    cr_expect_str_eq(str(s, "function"), "cli:report");
    cr_expect_str_eq(str(s, "cron"), "30 2 * * *");
    cr_expect_str_eq(str(s, "zone"), "Europe/Berlin");
    cr_expect_str_eq(str(s, "backoff"), "fixed");
    cr_expect_eq(json_integer_value(json_object_get(s, "max_attempts")), 5);
    cr_expect_eq(json_integer_value(json_object_get(s, "priority")), 7);
    cr_expect_eq(json_integer_value(json_object_get(s, "timeout_ms")), 60000);
    cr_expect(json_is_false(json_object_get(s, "paused")));
    cr_expect(json_is_integer(json_object_get(s, "next_run_at")));
    cr_expect(json_is_null(json_object_get(s, "last_run_at")));
    cr_expect_gt(json_integer_value(json_object_get(s, "created_at")), 0);
    json_t *want = json_pack("[i, s]", 1, "a");
    cr_expect(json_equal(json_object_get(s, "args"), want), "args");
    json_decref(want);
    json_int_t next = json_integer_value(json_object_get(s, "next_run_at"));
    json_decref(s);

    /* the same name again: an update of the one schedule, not a second one */
    s = RUN_JSON("schedules", "create", "nightly", "--function", "cli:report", "--cron",
                 "30 2 * * *", "--zone", "Europe/Berlin", "--priority", "9");
    cr_expect_eq(json_integer_value(json_object_get(s, "priority")), 9);
    cr_expect_eq(json_integer_value(json_object_get(s, "next_run_at")), next,
                 "same cron and zone keep next_run_at");
    cr_expect(json_is_null(json_object_get(s, "args")), "no --args: no arguments");
    json_decref(s);
    json_t *l = RUN_JSON("schedules", "list");
    cr_expect_eq(json_array_size(json_object_get(l, "schedules")), 1);
    json_decref(l);

    s = RUN_JSON("schedules", "show", "nightly");
    cr_expect_str_eq(str(s, "zone"), "Europe/Berlin");
    cr_expect_eq(json_integer_value(json_object_get(s, "priority")), 9);
    json_decref(s);

    /* text: one "field value" line each */
    struct clirun r;
    RUN(&r, "schedules", "show", "nightly");
    clirun_expect_ok(&r);
    cr_expect(strstr(r.out, "name         nightly\n") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "cron         30 2 * * *\n") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "state        active\n") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "args         (none)\n") != NULL, "%s", r.out);
    clirun_free(&r);
}

/* list: every schedule by name, across pages the CLI fetches itself; a table in text. */
Test(cli_schedules, list)
{
    struct clirun r;
    RUN(&r, "schedules", "list");
    clirun_expect_ok(&r);
    cr_expect_str_eq(r.out, "no schedules\n");
    clirun_free(&r);
    json_t *l = RUN_JSON("schedules", "list");
    cr_expect_eq(json_array_size(json_object_get(l, "schedules")), 0);
    json_decref(l);

    const char *names[] = {"c-weekly", "a-hourly", "b-daily"};
    const char *crons[] = {"@weekly", "@hourly", "0 0 * * *"};
    for (int i = 0; i < 3; i++) {
        json_t *s =
            RUN_JSON("schedules", "create", names[i], "--function", "cli:f", "--cron", crons[i]);
        json_decref(s);
    }
    l = RUN_JSON("schedules", "list");
    json_t *a = json_object_get(l, "schedules");
    cr_assert_eq(json_array_size(a), 3);
    cr_expect_str_eq(str(json_array_get(a, 0), "name"), "a-hourly");
    cr_expect_str_eq(str(json_array_get(a, 1), "name"), "b-daily");
    cr_expect_str_eq(str(json_array_get(a, 2), "name"), "c-weekly");
    cr_expect_str_eq(str(json_array_get(a, 0), "zone"), "UTC");
    json_decref(l);

    RUN(&r, "schedules", "list");
    clirun_expect_ok(&r);
    cr_expect(strncmp(r.out, "NAME ", 5) == 0, "%s", r.out);
    const char *a_row = strstr(r.out, "a-hourly");
    const char *c_row = strstr(r.out, "c-weekly");
    cr_expect(a_row != NULL && c_row != NULL && a_row < c_row, "%s", r.out);
    cr_expect(strstr(r.out, "@hourly") != NULL, "%s", r.out);
    clirun_free(&r);
}

/* pause, resume, delete; each on an unknown name exits 1 with not_found. */
Test(cli_schedules, pause_resume_delete)
{
    json_t *s = RUN_JSON("schedules", "create", "tick", "--function", "cli:f", "--cron",
                         "* * * * *", "--paused");
    cr_expect(json_is_true(json_object_get(s, "paused")), "--paused");
    cr_expect(json_is_null(json_object_get(s, "next_run_at")), "paused: no next run");
    json_decref(s);
    s = RUN_JSON("schedules", "resume", "tick");
    cr_expect(json_is_false(json_object_get(s, "paused")));
    cr_expect(json_is_integer(json_object_get(s, "next_run_at")));
    json_decref(s);

    struct clirun r;
    RUN(&r, "schedules", "pause", "tick");
    clirun_expect_ok(&r);
    cr_expect(strstr(r.out, "state        paused\n") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "next run     -\n") != NULL, "%s", r.out);
    clirun_free(&r);
    s = RUN_JSON("schedules", "show", "tick");
    cr_expect(json_is_true(json_object_get(s, "paused")));
    json_decref(s);

    s = RUN_JSON("schedules", "delete", "tick");
    cr_expect_str_eq(str(s, "deleted"), "tick");
    json_decref(s);

    static const char *const subs[] = {"show", "pause", "resume", "delete"};
    for (size_t i = 0; i < 4; i++) {
        RUN(&r, "schedules", subs[i], "tick");
        clirun_expect_error(&r, 1, "not_found");
        cr_expect(strstr(r.err, "schedule tick") != NULL, "%s", r.err);
        clirun_free(&r);
    }
    RUN(&r, "schedules", "delete", "tick", "--json");
    clirun_expect_error(&r, 1, "not_found");
    clirun_free(&r);
    RUN(&r, "schedules", "create", "tock", "--function", "cli:f", "--cron", "@daily");
    clirun_expect_ok(&r);
    clirun_free(&r);
    RUN(&r, "schedules", "delete", "tock");
    clirun_expect_ok(&r);
    cr_expect_str_eq(r.out, "schedule tock deleted\n");
    clirun_free(&r);
}

/* What the daemon refuses exits 1 with bad_value; what the CLI can tell itself exits 2. */
Test(cli_schedules, errors)
{
    struct clirun r;
    RUN(&r, "schedules", "create", "x", "--function", "f", "--cron", "61 * * * *");
    clirun_expect_error(&r, 1, "bad_value");
    cr_expect(strstr(r.err, "cannot create schedule x") != NULL, "%s", r.err);
    clirun_free(&r);
    RUN(&r, "schedules", "create", "x", "--function", "f", "--cron", "@daily", "--zone",
        "Mars/Olympus_Mons");
    clirun_expect_error(&r, 1, "bad_value");
    clirun_free(&r);
    RUN(&r, "--json", "schedules", "create", "x", "--function", "f", "--cron", "not cron");
    clirun_expect_error(&r, 1, "bad_value");
    clirun_free(&r);

    static const char *const usage[][12] = {
        {"schedules"},
        {"schedules", "frobnicate"},
        {"schedules", "show"},
        {"schedules", "show", "a", "b"},
        {"schedules", "create", "x", "--cron", "@daily"},
        {"schedules", "create", "x", "--function", "f"},
        {"schedules", "create", "--function", "f", "--cron", "@daily"},
        {"schedules", "create", "x", "--function", "f", "--cron", "@daily", "--args", "{}"},
        {"schedules", "create", "x", "--function", "f", "--cron", "@daily", "--args", "[1"},
        {"schedules", "create", "x", "--function", "f", "--cron", "@daily", "--backoff", "no"},
        {"schedules", "create", "x", "--function", "f", "--cron", "@daily", "--max-attempts", "0"},
        {"schedules", "list", "extra"},
    };
    for (size_t i = 0; i < sizeof(usage) / sizeof(usage[0]); i++) {
        const char *argv[16] = {"--socket", dmn.socket};
        size_t n = 2;
        for (size_t k = 0; k < 12 && usage[i][k] != NULL; k++)
            argv[n++] = usage[i][k];
        argv[n] = NULL;
        clirun_argv(&r, argv, NULL);
        cr_expect_eq(r.status, 2, "case %zu: exit status %d: %s", i, r.status, r.err);
        cr_expect(clirun_err_line(&r, "reseolio schedules"), "case %zu: %s", i, r.err);
        cr_expect_str_empty(r.out, "case %zu", i);
        clirun_free(&r);
    }
    json_t *l = RUN_JSON("schedules", "list");
    cr_expect_eq(json_array_size(json_object_get(l, "schedules")), 0, "nothing was created");
    json_decref(l);
}
