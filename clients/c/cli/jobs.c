/*
 * `reseolio jobs ...`: the subcommand table, and the three that act on one job by id with
 * one call and answer with the job: show (GET), cancel (CANCEL), retry (RETRY).
 */
#include "jobs.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "flags.h"
#include "jobs_await.h"
#include "jobs_enqueue.h"
#include "jobs_list.h"
#include "jobview.h"

static const char jobs_usage[] =
    "usage: reseolio jobs SUBCOMMAND ...\n"
    "\n"
    "  list [--status S] [--name N] [--limit N] [--after CURSOR] [--all]\n"
    "  show ID\n"
    "  enqueue NAME --args JSON [--key K] [--max-attempts N] [--backoff B] [--delay MS]\n"
    "          [--priority P] [--timeout MS]\n"
    "  await ID [--timeout MS]\n"
    "  cancel ID\n"
    "  retry ID\n"
    "\n"
    "Each has --help. Add --json for one JSON document on stdout.\n";

static const char jobs_show_usage[] =
    "usage: reseolio jobs show ID\n"
    "\n"
    "Print everything the daemon knows of one job. Its arguments and result are decoded from\n"
    "MessagePack to JSON (bin as {\"$bin\": \"hex\"}; docs/operations.md lists every form).\n"
    "Exit status 1 when there is no such job.\n";

static const char jobs_cancel_usage[] =
    "usage: reseolio jobs cancel ID\n"
    "\n"
    "Cancel a pending or running job (a running attempt is told to stop). Exit status 1 when\n"
    "there is no such job, or when it is final already (conflict).\n";

static const char jobs_retry_usage[] =
    "usage: reseolio jobs retry ID\n"
    "\n"
    "Make a dead or cancelled job pending again, due now, with a fresh set of attempts. Exit\n"
    "status 1 when there is no such job, or when it is not dead or cancelled (conflict).\n";

/* One of the calls that take a job id and answer with the job. */
struct jobs_call {
    const char *cmd;   /* "jobs show" */
    const char *usage; /* its --help */
    const char *verb;  /* for errors: "cannot show job 7" */
    bool detail;       /* print the whole job, not one line */
    enum rs_client_status (*call)(struct rs_client *, uint64_t, struct rs_job_info **);
};

static const struct jobs_call jobs_calls[] = {
    {"jobs show", jobs_show_usage, "show", true, rs_get},
    {"jobs cancel", jobs_cancel_usage, "cancel", false, rs_cancel},
    {"jobs retry", jobs_retry_usage, "retry", false, rs_retry},
};

/* Parse ID, make the call, print the job (in full for show, one line for the others). */
static int jobs_by_id(struct cli *cli, const struct jobs_call *jc, int argc, char **argv)
{
    struct flags f = {.cmd = jc->cmd, .max_pos = 1};
    int rc = flags_parse(&f, cli, argc, argv);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (f.help) {
        fputs(jc->usage, stdout);
        return CLI_EXIT_OK;
    }
    if (f.npos == 0)
        return cli_usage_error(jc->cmd, "which job? give its id");
    uint64_t id;
    if ((rc = flags_job_id(jc->cmd, f.pos[0], &id)) != CLI_EXIT_OK ||
        (rc = cli_connect(cli)) != CLI_EXIT_OK)
        return rc;
    struct rs_job_info *job = NULL;
    enum rs_client_status st = jc->call(cli->client, id, &job);
    if (st != RS_CLIENT_OK) {
        char what[64];
        snprintf(what, sizeof(what), "cannot %s job %" PRIu64, jc->verb, id);
        return cli_call_failed(cli, st, what);
    }
    if (cli->json) {
        rc = cli_print_json(jobview_json(job));
    } else if (jc->detail) {
        rc = jobview_print(stdout, job) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILED;
        if (rc != CLI_EXIT_OK)
            cli_error("out of memory printing job %" PRIu64, id);
    } else {
        printf("job %" PRIu64 " is %s\n", id, rs_job_status_name(job->status));
    }
    rs_job_info_free(job);
    return rc;
}

/* Pick the subcommand. */
int jobs_run(struct cli *cli, int argc, char **argv)
{
    struct flags f = {.cmd = "jobs", .stop_at_pos = true};
    int rc = flags_parse(&f, cli, argc, argv);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (f.help) {
        fputs(jobs_usage, stdout);
        return CLI_EXIT_OK;
    }
    if (f.rest >= argc)
        return cli_usage_error("jobs", "which subcommand? list, show, enqueue, await, cancel "
                                       "or retry");
    const char *sub = argv[f.rest];
    int sub_argc = argc - f.rest - 1;
    char **sub_argv = argv + f.rest + 1;
    if (strcmp(sub, "list") == 0)
        return jobs_list_run(cli, sub_argc, sub_argv);
    if (strcmp(sub, "enqueue") == 0)
        return jobs_enqueue_run(cli, sub_argc, sub_argv);
    if (strcmp(sub, "await") == 0)
        return jobs_await_run(cli, sub_argc, sub_argv);
    for (size_t i = 0; i < sizeof(jobs_calls) / sizeof(jobs_calls[0]); i++)
        if (strcmp(sub, jobs_calls[i].cmd + 5) == 0)
            return jobs_by_id(cli, &jobs_calls[i], sub_argc, sub_argv);
    return cli_usage_error("jobs", "unknown subcommand '%s'", sub);
}
