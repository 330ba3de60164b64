/*
 * `reseolio jobs await`. AWAIT is bounded by its own --timeout (the daemon counts it), not
 * by the global one: waiting for hours is normal, and Ctrl-C ends it.
 */
#include "jobs_await.h"

#include <inttypes.h>
#include <stdio.h>

#include "flags.h"
#include "jobview.h"

static const char jobs_await_usage[] =
    "usage: reseolio jobs await ID [--timeout MS]\n"
    "\n"
    "Wait until job ID is final; print its result when it succeeded.\n"
    "  --timeout MS   give up after MS ms, 1..86400000 (default: wait as long as it takes)\n"
    "\n"
    "Exit status 0 when the job succeeded; 1 when it is dead or cancelled (the error goes to\n"
    "stderr), when the timeout passed, or when there is no such job.\n"
    "With --json: {\"job\", \"status\", \"attempt\", \"result\", \"error\"}, also for a dead or\n"
    "cancelled job.\n";

/* Print the outcome; a job that did not succeed is reported and fails the command. */
static int jobs_await_report(struct cli *cli, const struct rs_completion *done)
{
    int rc = CLI_EXIT_OK;
    if (cli->json) {
        rc = cli_print_json(jobview_completion_json(done));
    } else if (done->status == RS_JOB_SUCCESS) {
        printf("job %" PRIu64 " succeeded (attempt %" PRIu64 "): ", done->job, done->attempt);
        if (done->result == NULL)
            puts("no result");
        else if (jobview_print_value(stdout, done->result, done->result_len) != 0)
            rc = CLI_EXIT_FAILED;
    }
    if (done->status == RS_JOB_DEAD)
        cli_error("job %" PRIu64 " is dead after attempt %" PRIu64 ": %s", done->job, done->attempt,
                  done->error != NULL ? done->error : "(no error given)");
    else if (done->status == RS_JOB_CANCELLED)
        cli_error("job %" PRIu64 " was cancelled", done->job);
    return done->status == RS_JOB_SUCCESS ? rc : CLI_EXIT_FAILED;
}

/* Parse, await, report. */
int jobs_await_run(struct cli *cli, int argc, char **argv)
{
    const char *timeout = NULL;
    const struct flag spec[] = {{"timeout", &timeout, NULL}, {NULL, NULL, NULL}};
    struct flags f = {.cmd = "jobs await", .spec = spec, .max_pos = 1};
    int rc = flags_parse(&f, cli, argc, argv);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (f.help) {
        fputs(jobs_await_usage, stdout);
        return CLI_EXIT_OK;
    }
    if (f.npos == 0)
        return cli_usage_error(f.cmd, "which job? give its id");
    uint64_t id;
    int64_t timeout_ms = -1;
    if ((rc = flags_job_id(f.cmd, f.pos[0], &id)) != CLI_EXIT_OK)
        return rc;
    if (timeout != NULL &&
        (rc = flags_int(f.cmd, "--timeout", timeout, 1, 86400000, &timeout_ms)) != CLI_EXIT_OK)
        return rc;
    if ((rc = cli_connect(cli)) != CLI_EXIT_OK)
        return rc;
    struct rs_completion *done = NULL;
    enum rs_client_status st = rs_await(cli->client, id, timeout_ms, &done);
    if (st != RS_CLIENT_OK) {
        char what[64];
        snprintf(what, sizeof(what), "cannot await job %" PRIu64, id);
        return cli_call_failed(cli, st, what);
    }
    rc = jobs_await_report(cli, done);
    rs_completion_free(done);
    return rc;
}
