/*
 * `reseolio schedules ...`. Names and options are checked against the ranges of
 * docs/protocol.md before anything is sent (a usage error, 2); what the daemon refuses, an
 * invalid cron expression or time zone included, is a failure (1).
 */
#include "schedules.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flags.h"
#include "jsonmp.h"
#include "mpjson.h"

/* SCHEDULE_LIST's largest page (docs/protocol.md). */
#define SCHEDULES_PAGE 1000

static const char schedules_usage[] =
    "usage: reseolio schedules SUBCOMMAND ...\n"
    "\n"
    "  list\n"
    "  show NAME\n"
    "  create NAME --function F --cron C [--zone Z] [--args JSON] [--max-attempts N]\n"
    "         [--backoff B] [--priority P] [--timeout MS] [--paused]\n"
    "  pause NAME\n"
    "  resume NAME\n"
    "  delete NAME\n"
    "\n"
    "Each has --help. Add --json for one JSON document on stdout.\n";

static const char schedules_list_usage[] =
    "usage: reseolio schedules list\n"
    "\n"
    "Every schedule, by name. With --json: {\"schedules\": [schedule, ...]}, each as in\n"
    "'reseolio schedules show --json'.\n";

static const char schedules_show_usage[] =
    "usage: reseolio schedules show NAME\n"
    "\n"
    "Print everything the daemon knows of one schedule; its arguments decoded from MessagePack\n"
    "to JSON. Exit status 1 when there is no such schedule.\n";

static const char schedules_create_usage[] =
    "usage: reseolio schedules create NAME --function F --cron C [--zone Z] [--args JSON]\n"
    "                                 [--max-attempts N] [--backoff B] [--priority P]\n"
    "                                 [--timeout MS] [--paused]\n"
    "\n"
    "Create the schedule NAME, or update it when it exists (the same command twice gives one\n"
    "schedule). Each due run becomes one job of a call to F.\n"
    "  --function F        the function each run calls, 1..255 bytes\n"
    "  --cron C            5 fields (minute hour day-of-month month day-of-week) or @hourly,\n"
    "                      @daily, @weekly, @monthly, @yearly\n"
    "  --zone Z            IANA time zone the fields are read in (default UTC)\n"
    "  --args JSON         the arguments of every run: a JSON array (as for 'jobs enqueue')\n"
    "  --max-attempts N    attempts before a run's job is dead, 1..1000 (default 3)\n"
    "  --backoff B         fixed, linear, exponential (the default)\n"
    "  --priority P        -32768..32767 (default 0)\n"
    "  --timeout MS        time one attempt may run, 1..86400000 (default 30000)\n"
    "  --paused            create it paused (else a new schedule is active, an existing one\n"
    "                      keeps its state)\n"
    "Exit status 1 when the daemon refuses the expression or the zone (bad_value).\n";

static const char schedules_pause_usage[] =
    "usage: reseolio schedules pause NAME\n"
    "\n"
    "No more runs until it is resumed. Exit status 1 when there is no such schedule.\n";

static const char schedules_resume_usage[] =
    "usage: reseolio schedules resume NAME\n"
    "\n"
    "Runs again from the first due time after now (runs missed while paused are not made).\n"
    "Exit status 1 when there is no such schedule.\n";

static const char schedules_delete_usage[] =
    "usage: reseolio schedules delete NAME\n"
    "\n"
    "Remove the schedule; jobs it made stay. With --json: {\"deleted\": NAME}. Exit status 1\n"
    "when there is no such schedule.\n";

static const char *schedules_backoff_name(enum rs_client_backoff b)
{
    switch (b) {
    case RS_CLIENT_BACKOFF_FIXED:
        return "fixed";
    case RS_CLIENT_BACKOFF_LINEAR:
        return "linear";
    default:
        return "exponential";
    }
}

/* A time that may be absent (0) as JSON. */
static json_t *schedules_time(int64_t ms)
{
    return ms != 0 ? json_integer((json_int_t)ms) : json_null();
}

/* Every field of SCHEDULE; NULL when memory ran out. */
static json_t *schedules_json(const struct rs_schedule_info *s)
{
    json_t *args = s->args_len > 0 ? mpjson_decode(s->args, s->args_len) : json_null();
    if (args == NULL)
        return NULL;
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:o, s:I, s:s, s:I, s:I, s:f, s:I, s:i, s:b, s:o, "
        "s:o, s:I}",
        "name", s->name, "function", s->function, "cron", s->cron, "zone", s->zone, "args", args,
        "max_attempts", (json_int_t)s->max_attempts, "backoff", schedules_backoff_name(s->backoff),
        "initial_delay_ms", (json_int_t)s->initial_delay_ms, "max_delay_ms",
        (json_int_t)s->max_delay_ms, "jitter", s->jitter, "timeout_ms", (json_int_t)s->timeout_ms,
        "priority", s->priority, "paused", s->paused, "next_run_at", schedules_time(s->next_run_at),
        "last_run_at", schedules_time(s->last_run_at), "created_at", (json_int_t)s->created_at);
}

/* One "field  value" line with a time, or "-" when there is none. */
static void schedules_print_time(const char *field, int64_t ms)
{
    char when[48] = "-";
    if (ms != 0)
        cli_format_time(ms, when, sizeof(when));
    printf("%-12s %s\n", field, when);
}

/* The detail block of show, create, pause, resume. Returns 0, or -1 when memory ran out. */
static int schedules_print(const struct rs_schedule_info *s)
{
    printf("%-12s %s\n", "name", s->name);
    printf("%-12s %s\n", "function", s->function);
    printf("%-12s %s\n", "cron", s->cron);
    printf("%-12s %s\n", "zone", s->zone);
    printf("%-12s %s\n", "state", s->paused ? "paused" : "active");
    schedules_print_time("next run", s->next_run_at);
    schedules_print_time("last run", s->last_run_at);
    schedules_print_time("created", s->created_at);
    printf("%-12s %" PRIu64 ", %s backoff, timeout %" PRIu64 " ms, priority %d\n", "attempts",
           s->max_attempts, schedules_backoff_name(s->backoff), s->timeout_ms, s->priority);
    printf("%-12s ", "args");
    if (s->args_len == 0) {
        puts("(none)");
        return 0;
    }
    json_t *v = mpjson_decode(s->args, s->args_len);
    if (v == NULL)
        return -1;
    int rc = json_dumpf(v, stdout, JSON_ENCODE_ANY | cli_json_precision(v));
    json_decref(v);
    putchar('\n');
    return rc;
}

/* Print a schedule in full, as JSON or text. */
static int schedules_emit(struct cli *cli, const struct rs_schedule_info *s)
{
    if (cli->json)
        return cli_print_json(schedules_json(s));
    if (schedules_print(s) != 0) {
        cli_error("out of memory printing schedule %s", s->name);
        return CLI_EXIT_FAILED;
    }
    return CLI_EXIT_OK;
}

/* A schedule name as SCHEDULE_* takes it. */
static int schedules_name(const char *cmd, const struct flags *f, const char **name)
{
    if (f->npos == 0)
        return cli_usage_error(cmd, "which schedule? give its name");
    *name = f->pos[0];
    if ((*name)[0] == '\0' || strlen(*name) > 200)
        return cli_usage_error(cmd, "a schedule name is 1..200 bytes");
    return CLI_EXIT_OK;
}

/* One of the calls that take a name and answer with the schedule (or OK for delete). */
struct schedules_call {
    const char *cmd;   /* "schedules show" */
    const char *usage; /* its --help */
    const char *verb;  /* for errors: "cannot show schedule x" */
    enum rs_client_status (*call)(struct rs_client *, const char *, struct rs_schedule_info **);
};

static const struct schedules_call schedules_calls[] = {
    {"schedules show", schedules_show_usage, "show", rs_schedule_get},
    {"schedules pause", schedules_pause_usage, "pause", rs_schedule_pause},
    {"schedules resume", schedules_resume_usage, "resume", rs_schedule_resume},
    {"schedules delete", schedules_delete_usage, "delete", NULL},
};

/* Parse NAME, make the call, print the schedule. */
static int schedules_by_name(struct cli *cli, const struct schedules_call *sc, int argc,
                             char **argv)
{
    struct flags f = {.cmd = sc->cmd, .max_pos = 1};
    int rc = flags_parse(&f, cli, argc, argv);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (f.help) {
        fputs(sc->usage, stdout);
        return CLI_EXIT_OK;
    }
    const char *name = NULL;
    if ((rc = schedules_name(sc->cmd, &f, &name)) != CLI_EXIT_OK ||
        (rc = cli_connect(cli)) != CLI_EXIT_OK)
        return rc;
    struct rs_schedule_info *s = NULL;
    enum rs_client_status st =
        sc->call != NULL ? sc->call(cli->client, name, &s) : rs_schedule_delete(cli->client, name);
    if (st != RS_CLIENT_OK) {
        char what[256];
        snprintf(what, sizeof(what), "cannot %s schedule %s", sc->verb, name);
        return cli_call_failed(cli, st, what);
    }
    if (sc->call == NULL) {
        if (cli->json)
            return cli_print_json(json_pack("{s:s}", "deleted", name));
        printf("schedule %s deleted\n", name);
        return CLI_EXIT_OK;
    }
    rc = schedules_emit(cli, s);
    rs_schedule_info_free(s);
    return rc;
}

/* `schedules list`: every page, as one table or one document. */
static int schedules_list(struct cli *cli, int argc, char **argv)
{
    struct flags f = {.cmd = "schedules list"};
    int rc = flags_parse(&f, cli, argc, argv);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (f.help) {
        fputs(schedules_list_usage, stdout);
        return CLI_EXIT_OK;
    }
    if ((rc = cli_connect(cli)) != CLI_EXIT_OK)
        return rc;
    json_t *all = json_array();
    if (all == NULL)
        return cli_print_json(NULL);
    char *after = NULL;
    size_t shown = 0;
    for (;;) {
        struct rs_schedule_page *p = NULL;
        enum rs_client_status st = rs_schedule_list(cli->client, after, SCHEDULES_PAGE, &p);
        free(after);
        after = NULL;
        if (st != RS_CLIENT_OK) {
            json_decref(all);
            return cli_call_failed(cli, st, "cannot list schedules");
        }
        for (size_t i = 0; i < p->count; i++, shown++) {
            const struct rs_schedule_info *s = &p->schedules[i];
            if (cli->json) {
                json_t *j = schedules_json(s);
                if (j == NULL || json_array_append_new(all, j) != 0)
                    rc = CLI_EXIT_FAILED;
                continue;
            }
            char next[48] = "-";
            if (s->next_run_at != 0)
                cli_format_time(s->next_run_at, next, sizeof(next));
            if (shown == 0)
                printf("%-24s %-7s %-20s %-24s %-16s %s\n", "NAME", "STATE", "CRON", "NEXT RUN",
                       "ZONE", "FUNCTION");
            printf("%-24s %-7s %-20s %-24s %-16s %s\n", s->name, s->paused ? "paused" : "active",
                   s->cron, next, s->zone, s->function);
        }
        if (p->next != NULL && (after = strdup(p->next)) == NULL)
            rc = CLI_EXIT_FAILED;
        rs_schedule_page_free(p);
        if (rc != CLI_EXIT_OK) {
            json_decref(all);
            return cli_print_json(NULL);
        }
        if (after == NULL)
            break;
    }
    if (cli->json)
        return cli_print_json(json_pack("{s:o}", "schedules", all));
    json_decref(all);
    if (shown == 0)
        puts("no schedules");
    return CLI_EXIT_OK;
}

/* The options of `schedules create` as given; NULL when absent. */
struct schedules_create_flags {
    const char *function, *cron, *zone, *args;
    struct flags_job job;
    bool paused;
};

/* The strings' lengths, and --args encoded. Returns CLI_EXIT_OK or CLI_EXIT_USAGE. */
static int schedules_create_check(const struct schedules_create_flags *fl, struct jsonmp_out *args)
{
    const char *cmd = "schedules create";
    if (fl->function == NULL || fl->function[0] == '\0' || strlen(fl->function) > 255)
        return cli_usage_error(cmd, "--function is required, 1..255 bytes");
    if (fl->cron == NULL || fl->cron[0] == '\0' || strlen(fl->cron) > 255)
        return cli_usage_error(cmd, "--cron is required, 1..255 bytes");
    if (fl->zone != NULL && (fl->zone[0] == '\0' || strlen(fl->zone) > 127))
        return cli_usage_error(cmd, "--zone must be 1..127 bytes");
    args->data = NULL;
    args->size = 0;
    if (fl->args == NULL)
        return CLI_EXIT_OK;
    json_error_t jerr;
    json_t *j =
        json_loads(fl->args, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (j == NULL)
        return cli_usage_error(cmd, "--args is not JSON: %s (column %d)", jerr.text, jerr.column);
    if (!json_is_array(j)) {
        json_decref(j);
        return cli_usage_error(cmd, "--args must be a JSON array of the arguments, like "
                                    "'[1, \"a\"]'");
    }
    char err[512];
    int rc = jsonmp_encode(j, args, err, sizeof(err));
    json_decref(j);
    if (rc != 0)
        return cli_usage_error(cmd, "--args%s%s", err[0] == '[' ? "" : ": ", err);
    return CLI_EXIT_OK;
}

/* `schedules create`: SCHEDULE_PUT, then the schedule as stored. */
static int schedules_create(struct cli *cli, int argc, char **argv)
{
    struct schedules_create_flags fl = {0};
    const struct flag spec[] = {
        {"function", &fl.function, NULL},
        {"cron", &fl.cron, NULL},
        {"zone", &fl.zone, NULL},
        {"args", &fl.args, NULL},
        {"max-attempts", &fl.job.max_attempts, NULL},
        {"backoff", &fl.job.backoff, NULL},
        {"priority", &fl.job.priority, NULL},
        {"timeout", &fl.job.timeout, NULL},
        {"paused", NULL, &fl.paused},
        {NULL, NULL, NULL},
    };
    struct flags f = {.cmd = "schedules create", .spec = spec, .max_pos = 1};
    int rc = flags_parse(&f, cli, argc, argv);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (f.help) {
        fputs(schedules_create_usage, stdout);
        return CLI_EXIT_OK;
    }
    const char *name = NULL;
    if ((rc = schedules_name(f.cmd, &f, &name)) != CLI_EXIT_OK)
        return rc;
    struct rs_schedule_opts o;
    rs_schedule_opts_init(&o);
    rs_enqueue_opts_init(&o.job);
    o.zone = fl.zone;
    o.paused = fl.paused ? 1 : -1;
    if ((rc = flags_job_opts("schedules create", &fl.job, &o.job)) != CLI_EXIT_OK)
        return rc;
    struct jsonmp_out args;
    if ((rc = schedules_create_check(&fl, &args)) != CLI_EXIT_OK)
        return rc;
    o.args = args.data;
    o.args_len = args.size;
    struct rs_schedule_info *s = NULL;
    enum rs_client_status st = RS_CLIENT_OK;
    if ((rc = cli_connect(cli)) == CLI_EXIT_OK &&
        (st = rs_schedule_put(cli->client, name, fl.function, fl.cron, &o, &s)) != RS_CLIENT_OK) {
        char what[256];
        snprintf(what, sizeof(what), "cannot create schedule %s", name);
        rc = cli_call_failed(cli, st, what);
    }
    if (args.data != NULL)
        jsonmp_free(&args);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = schedules_emit(cli, s);
    rs_schedule_info_free(s);
    return rc;
}

/* Pick the subcommand. */
int schedules_run(struct cli *cli, int argc, char **argv)
{
    struct flags f = {.cmd = "schedules", .stop_at_pos = true};
    int rc = flags_parse(&f, cli, argc, argv);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (f.help) {
        fputs(schedules_usage, stdout);
        return CLI_EXIT_OK;
    }
    if (f.rest >= argc)
        return cli_usage_error("schedules", "which subcommand? list, show, create, pause, "
                                            "resume or delete");
    const char *sub = argv[f.rest];
    int sub_argc = argc - f.rest - 1;
    char **sub_argv = argv + f.rest + 1;
    if (strcmp(sub, "list") == 0)
        return schedules_list(cli, sub_argc, sub_argv);
    if (strcmp(sub, "create") == 0)
        return schedules_create(cli, sub_argc, sub_argv);
    for (size_t i = 0; i < sizeof(schedules_calls) / sizeof(schedules_calls[0]); i++)
        if (strcmp(sub, schedules_calls[i].cmd + 10) == 0)
            return schedules_by_name(cli, &schedules_calls[i], sub_argc, sub_argv);
    return cli_usage_error("schedules", "unknown subcommand '%s'", sub);
}
