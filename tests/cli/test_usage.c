/*
 * The `reseolio` binary without a daemon: --version, --help on every command, usage errors
 * (exit status 2 and one line on stderr), and a daemon that is not there (exit status 3).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "clirun.h"

#define NO_DAEMON "/tmp/reseolio-cli-test-no-such-dir/reseolio.sock"

Test(cli_usage, version)
{
    struct clirun r;
    CLIRUN(&r, "--version");
    clirun_expect_ok(&r);
    cr_expect(strncmp(r.out, "reseolio ", 9) == 0 &&
                  strchr(r.out, '\n') == r.out + strlen(r.out) - 1,
              "stdout: %s", r.out);
    clirun_free(&r);
}

/* Every command and subcommand answers --help on stdout with its usage, exit status 0. */
Test(cli_usage, help_on_every_command)
{
    static const char *const cases[][5] = {
        {"--help"},
        {"help"},
        {"-h"},
        {"status", "--help"},
        {"jobs", "--help"},
        {"jobs", "-h"},
        {"jobs", "list", "--help"},
        {"jobs", "show", "--help"},
        {"jobs", "enqueue", "--help"},
        {"jobs", "await", "--help"},
        {"jobs", "cancel", "--help"},
        {"jobs", "retry", "--help"},
        /* --help wins over everything else on the line, even what would be an error */
        {"jobs", "show", "not-an-id", "--help"},
        {"schedules", "--help"},
        {"schedules", "list", "--help"},
        {"schedules", "show", "--help"},
        {"schedules", "create", "--help"},
        {"schedules", "pause", "--help"},
        {"schedules", "resume", "--help"},
        {"schedules", "delete", "-h"},
    };
    static const char *const expect[] = {
        "usage: reseolio [",
        "usage: reseolio [",
        "usage: reseolio [",
        "usage: reseolio status",
        "usage: reseolio jobs SUB",
        "usage: reseolio jobs SUB",
        "usage: reseolio jobs list",
        "usage: reseolio jobs show",
        "usage: reseolio jobs enqueue",
        "usage: reseolio jobs await",
        "usage: reseolio jobs cancel",
        "usage: reseolio jobs retry",
        "usage: reseolio jobs show",
        "usage: reseolio schedules SUB",
        "usage: reseolio schedules list",
        "usage: reseolio schedules show",
        "usage: reseolio schedules create",
        "usage: reseolio schedules pause",
        "usage: reseolio schedules resume",
        "usage: reseolio schedules delete",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct clirun r;
        clirun_argv(&r, cases[i], NULL);
        cr_expect_eq(r.status, 0, "case %zu: exit status %d", i, r.status);
        cr_expect_str_empty(r.err, "case %zu: stderr: %s", i, r.err);
        cr_expect(strncmp(r.out, expect[i], strlen(expect[i])) == 0, "case %zu: stdout: %s", i,
                  r.out);
        clirun_free(&r);
    }
}

/* A command line that cannot mean anything: exit status 2, one line that says why. */
struct usage_case {
    const char *argv[12];
    const char *needle;
};

static const struct usage_case usage_cases[] = {
    {{NULL}, "no command given"},
    {{"bogus"}, "unknown command 'bogus'"},
    {{"--bogus", "status"}, "unknown option '--bogus'"},
    {{"-x", "status"}, "unknown option '-x'"},
    {{"--version=2"}, "--version takes no value"},
    {{"--timeout", "0", "status"}, "--timeout must be an integer from 1"},
    {{"--timeout", "5s", "status"}, "not '5s'"},
    {{"--socket"}, "--socket needs a value"},
    {{"status", "extra"}, "status: unexpected argument 'extra'"},
    {{"status", "--max-jobs", "1"}, "unknown option '--max-jobs'"},
    {{"jobs"}, "jobs: which subcommand?"},
    {{"jobs", "frob"}, "unknown subcommand 'frob'"},
    {{"jobs", "show"}, "jobs show: which job?"},
    {{"jobs", "show", "abc"}, "a job id is a positive integer, not 'abc'"},
    {{"jobs", "show", "0"}, "a job id is a positive integer"},
    {{"jobs", "show", "-3"}, "unknown option '-3'"},
    {{"jobs", "show", "99999999999999999999"}, "a job id is a positive integer"},
    {{"jobs", "cancel", "1", "2"}, "jobs cancel: unexpected argument '2'"},
    {{"jobs", "retry"}, "jobs retry: which job?"},
    {{"jobs", "list", "--limit", "0"}, "--limit must be an integer from 1 to 100000000"},
    {{"jobs", "list", "--limit", "0x10"}, "--limit must be"},
    {{"jobs", "list", "--status", "sleeping"}, "--status must be pending, running, success"},
    {{"jobs", "list", "--status"}, "--status needs a value"},
    {{"jobs", "list", "--all=yes"}, "--all takes no value"},
    {{"jobs", "list", "--all", "--limit", "5"}, "--all and --limit exclude each other"},
    {{"jobs", "list", "--after", "x"}, "--after must be"},
    {{"jobs", "list", "--name", ""}, "--name must be 1..255 bytes"},
    {{"jobs", "await"}, "jobs await: which job?"},
    {{"jobs", "await", "1", "--timeout", "soon"}, "--timeout must be"},
    {{"jobs", "enqueue"}, "which function?"},
    {{"jobs", "enqueue", "f"}, "--args is required"},
    {{"jobs", "enqueue", "f", "--args"}, "--args needs a value"},
    {{"jobs", "enqueue", "f", "--args", "{\"a\": 1}"}, "--args must be a JSON array"},
    {{"jobs", "enqueue", "f", "--args", "{\"a\": 1}"}, "not an object"},
    {{"jobs", "enqueue", "f", "--args", "7"}, "not a number"},
    {{"jobs", "enqueue", "f", "--args", "\"x\""}, "not a string"},
    {{"jobs", "enqueue", "f", "--args", "null"}, "not null"},
    {{"jobs", "enqueue", "f", "--args", "[1,"}, "--args is not JSON"},
    {{"jobs", "enqueue", "f", "--args", "[{\"a\": 1, \"a\": 2}]"}, "--args is not JSON"},
    {{"jobs", "enqueue", "f", "--args", "[18446744073709551615]"}, "as {\"$uint\": "},
    {{"jobs", "enqueue", "f", "--args", "[1, {\"$bin\": \"abc\"}]"}, "--args[1]: $bin takes"},
    {{"jobs", "enqueue", "f", "--args", "[{\"k\": {\"$uint\": \"-1\"}}]"}, "--args[0].k: $uint"},
    {{"jobs", "enqueue", "f", "--args", "[{\"$float\": \"nan\"}]"}, "$float takes"},
    {{"jobs", "enqueue", "f", "--args", "[{\"$ext\": [300, \"00\"]}]"}, "$ext takes"},
    {{"jobs", "enqueue", "f", "--args", "[{\"$map\": [[1]]}]"}, "not a [key, value] pair"},
    {{"jobs", "enqueue", "f", "--args", "[{\"$frob\": 1}]"}, "unknown tag \"$frob\""},
    {{"jobs", "enqueue", "f", "--args", "[]", "--backoff", "random"}, "--backoff must be fixed"},
    {{"jobs", "enqueue", "f", "--args", "[]", "--max-attempts", "0"}, "--max-attempts must be"},
    {{"jobs", "enqueue", "f", "--args", "[]", "--max-attempts", "1001"}, "from 1 to 1000,"},
    {{"jobs", "enqueue", "f", "--args", "[]", "--priority", "40000"}, "--priority must be"},
    {{"jobs", "enqueue", "f", "--args", "[]", "--delay", "-1"}, "--delay must be"},
    {{"jobs", "enqueue", "f", "--args", "[]", "--timeout", "0"}, "--timeout must be"},
    {{"jobs", "enqueue", "f", "--args", "[]", "--key", ""}, "--key must be 1..255 bytes"},
    {{"jobs", "enqueue", "", "--args", "[]"}, "a function name is 1..255 bytes"},
};

Test(cli_usage, usage_errors_exit_2_with_one_line)
{
    for (size_t i = 0; i < sizeof(usage_cases) / sizeof(usage_cases[0]); i++) {
        struct clirun r;
        /* Should a case get past its check, it must not reach a daemon of the user's. */
        clirun_argv(&r, usage_cases[i].argv,
                    (const char *const[]){"RESEOLIO_SOCKET=" NO_DAEMON, NULL});
        cr_expect_eq(r.status, 2, "case %zu (%s): exit status %d", i, usage_cases[i].needle,
                     r.status);
        cr_expect_str_empty(r.out, "case %zu: stdout: %s", i, r.out);
        cr_expect(clirun_err_line(&r, usage_cases[i].needle), "case %zu: wanted \"%s\", got: %s", i,
                  usage_cases[i].needle, r.err);
        clirun_free(&r);
    }
}

/* Nesting deeper than anyone can show back is refused before anything is sent. */
Test(cli_usage, args_nested_too_deep)
{
    char deep[80];
    memset(deep, '[', 33);
    memset(deep + 33, ']', 33);
    deep[66] = '\0';
    struct clirun r;
    CLIRUN(&r, "jobs", "enqueue", "f", "--args", deep, "--socket", NO_DAEMON);
    clirun_expect_error(&r, 2, "nested deeper than 32");
    clirun_free(&r);
}

/* No daemon at the socket: exit status 3 for every command that needs one. */
Test(cli_usage, daemon_not_running_exits_3)
{
    static const char *const cases[][12] = {
        {"--socket", NO_DAEMON, "status"},
        {"--socket", NO_DAEMON, "jobs", "list"},
        {"--socket", NO_DAEMON, "--json", "jobs", "show", "1"},
        {"jobs", "cancel", "1", "--socket", NO_DAEMON},
        {"jobs", "retry", "1", "--socket", NO_DAEMON},
        {"jobs", "await", "1", "--socket", NO_DAEMON},
        {"jobs", "enqueue", "f", "--args", "[]", "--socket", NO_DAEMON},
        {"--socket", NO_DAEMON, "schedules", "list"},
        {"schedules", "show", "s", "--socket", NO_DAEMON},
        {"schedules", "create", "s", "--function", "f", "--cron", "@daily", "--socket", NO_DAEMON},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct clirun r;
        clirun_argv(&r, cases[i], NULL);
        clirun_expect_error(&r, 3, "cannot reach the daemon");
        cr_expect(strstr(r.err, "is reseoliod running?") != NULL, "case %zu: %s", i, r.err);
        clirun_free(&r);
    }
    /* The socket can come from the environment, like for every client. */
    struct clirun r;
    clirun_argv(&r, (const char *const[]){"jobs", "list", NULL},
                (const char *const[]){"RESEOLIO_SOCKET=" NO_DAEMON, NULL});
    clirun_expect_error(&r, 3, NO_DAEMON);
    clirun_free(&r);
}
