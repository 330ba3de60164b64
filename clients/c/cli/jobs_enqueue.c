/*
 * `reseolio jobs enqueue`. Every option is checked here against the ranges of
 * docs/protocol.md, so a mistake is a usage error (2) with the option's name, not a daemon
 * ERROR; what the daemon still refuses is a failure (1).
 */
#include "jobs_enqueue.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "flags.h"
#include "jsonmp.h"

#define JOBS_ENQUEUE_MAX_DELAY 2592000000LL /* 30 days, in ms */

static const char jobs_enqueue_usage[] =
    "usage: reseolio jobs enqueue NAME --args JSON [--key K] [--max-attempts N] [--backoff B]\n"
    "                             [--delay MS] [--priority P] [--timeout MS]\n"
    "\n"
    "Make a job of a call to function NAME and print its id once it is durable.\n"
    "  --args JSON         the arguments: a JSON array, e.g. '[2, 3]' or '[{\"id\": 7}]', sent\n"
    "                      as one MessagePack array; {\"$bin\": \"hex\"} and the other forms\n"
    "                      that 'jobs show --json' prints are read back as what they stand for\n"
    "  --key K             idempotency key, 1..255 bytes: the same NAME and K give the same job\n"
    "  --max-attempts N    attempts before the job is dead, 1..1000 (default 3)\n"
    "  --backoff B         how retry delays grow: fixed, linear, exponential (the default)\n"
    "  --delay MS          do not start before MS ms from now, 0..2592000000 (30 days)\n"
    "  --priority P        higher runs first among due jobs, -32768..32767 (default 0)\n"
    "  --timeout MS        time one attempt may run, 1..86400000 (default 30000)\n"
    "\n"
    "With --json: {\"job\": ID, \"deduplicated\": BOOL}.\n";

/* The options as given; NULL when absent. */
struct jobs_enqueue_flags {
    const char *args, *key, *delay;
    struct flags_job job;
};

/* Every option but --args into o. Returns CLI_EXIT_OK or CLI_EXIT_USAGE. */
static int jobs_enqueue_opts(const struct jobs_enqueue_flags *fl, struct rs_enqueue_opts *o)
{
    const char *cmd = "jobs enqueue";
    rs_enqueue_opts_init(o);
    if (fl->key != NULL) {
        if (fl->key[0] == '\0' || strlen(fl->key) > 255)
            return cli_usage_error(cmd, "--key must be 1..255 bytes");
        o->idempotency_key = fl->key;
    }
    if (fl->delay != NULL) {
        int64_t v;
        int rc = flags_int(cmd, "--delay", fl->delay, 0, JOBS_ENQUEUE_MAX_DELAY, &v);
        if (rc != CLI_EXIT_OK)
            return rc;
        o->delay_ms = v;
    }
    return flags_job_opts(cmd, &fl->job, o);
}

/* What a JSON value is, for the error that says the arguments must be an array. */
static const char *jobs_enqueue_kind(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* --args: a JSON array, encoded. Returns CLI_EXIT_OK or CLI_EXIT_USAGE. */
static int jobs_enqueue_args(const char *text, struct jsonmp_out *out)
{
    const char *cmd = "jobs enqueue";
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (j == NULL)
        return cli_usage_error(cmd, "--args is not JSON: %s (column %d)%s", jerr.text, jerr.column,
                               strstr(jerr.text, "too big integer") != NULL
                                   ? "; write integers above 2^63-1 as {\"$uint\": \"...\"}"
                                   : "");
    if (!json_is_array(j)) {
        const char *kind = jobs_enqueue_kind(j);
        json_decref(j);
        return cli_usage_error(cmd,
                               "--args must be a JSON array of the arguments, like '[1, \"a\"]', "
                               "not %s",
                               kind);
    }
    char err[512];
    int rc = jsonmp_encode(j, out, err, sizeof(err));
    json_decref(j);
    if (rc != 0)
        return cli_usage_error(cmd, "--args%s%s", err[0] == '[' ? "" : ": ", err);
    return CLI_EXIT_OK;
}

/* Parse, encode, enqueue, print the id. */
int jobs_enqueue_run(struct cli *cli, int argc, char **argv)
{
    struct jobs_enqueue_flags fl = {0};
    const struct flag spec[] = {
        {"args", &fl.args, NULL},
        {"key", &fl.key, NULL},
        {"max-attempts", &fl.job.max_attempts, NULL},
        {"backoff", &fl.job.backoff, NULL},
        {"delay", &fl.delay, NULL},
        {"priority", &fl.job.priority, NULL},
        {"timeout", &fl.job.timeout, NULL},
        {NULL, NULL, NULL},
    };
    struct flags f = {.cmd = "jobs enqueue", .spec = spec, .max_pos = 1};
    int rc = flags_parse(&f, cli, argc, argv);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (f.help) {
        fputs(jobs_enqueue_usage, stdout);
        return CLI_EXIT_OK;
    }
    if (f.npos == 0)
        return cli_usage_error(f.cmd, "which function? give its name");
    const char *name = f.pos[0];
    if (name[0] == '\0' || strlen(name) > 255)
        return cli_usage_error(f.cmd, "a function name is 1..255 bytes");
    if (fl.args == NULL)
        return cli_usage_error(f.cmd, "--args is required (use '[]' for no arguments)");
    struct rs_enqueue_opts o;
    if ((rc = jobs_enqueue_opts(&fl, &o)) != CLI_EXIT_OK)
        return rc;
    struct jsonmp_out args;
    if ((rc = jobs_enqueue_args(fl.args, &args)) != CLI_EXIT_OK)
        return rc;
    struct rs_enqueue_result r;
    enum rs_client_status st = RS_CLIENT_OK;
    if ((rc = cli_connect(cli)) == CLI_EXIT_OK &&
        (st = rs_enqueue(cli->client, name, args.data, args.size, &o, &r)) != RS_CLIENT_OK)
        rc = cli_call_failed(cli, st, "cannot enqueue");
    jsonmp_free(&args);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (cli->json)
        return cli_print_json(
            json_pack("{s:I, s:b}", "job", (json_int_t)r.job, "deduplicated", r.deduplicated));
    if (r.deduplicated)
        printf("job %" PRIu64 " (deduplicated: it existed for key %s)\n", r.job, fl.key);
    else
        printf("job %" PRIu64 " enqueued\n", r.job);
    return CLI_EXIT_OK;
}
