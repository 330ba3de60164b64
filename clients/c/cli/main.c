/*
 * reseolio: the command-line tool of Reseolio. Reads the global options, then hands the rest
 * of the command line to the command (status, jobs ...). See docs/operations.md.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "flags.h"
#include "jobs.h"
#include "schedules.h"
#include "status.h"

static const char main_usage[] =
    "usage: reseolio [--socket PATH] [--json] [--timeout MS] COMMAND ...\n"
    "\n"
    "Look at and steer reseoliod, the Reseolio daemon of this host, and its jobs.\n"
    "\n"
    "commands:\n"
    "  status                          the daemon, database, nodes, queues and counters\n"
    "  jobs list                       jobs, newest first, filtered\n"
    "  jobs show ID                    one job, its arguments and result as JSON\n"
    "  jobs enqueue NAME --args JSON   call a function: make a job\n"
    "  jobs await ID                   wait until a job is final\n"
    "  jobs cancel ID                  cancel a pending or running job\n"
    "  jobs retry ID                   run a dead or cancelled job again\n"
    "  schedules list                  cron schedules, by name\n"
    "  schedules show NAME             one schedule\n"
    "  schedules create NAME --function F --cron C   create or update a schedule\n"
    "  schedules pause|resume|delete NAME\n"
    "\n"
    "options (before the command; --json and --socket also after it):\n"
    "  --socket PATH   the daemon's socket; default $RESEOLIO_SOCKET, else\n"
    "                  $XDG_RUNTIME_DIR/reseolio/reseolio.sock, else "
    "/tmp/reseolio-$UID/reseolio.sock\n"
    "  --json          print one JSON document on stdout instead of text\n"
    "  --timeout MS    bound on connecting and on each request, 1..86400000 (default 30000)\n"
    "  --help          this text; each command has its own: reseolio jobs list --help\n"
    "  --version       print the version\n"
    "\n"
    "exit status: 0 done; 1 the operation failed (no such job, a conflict, a job that did not\n"
    "succeed); 2 usage error; 3 the daemon cannot be reached or cannot serve now.\n"
    "Errors are one line on stderr, starting with \"reseolio: \".\n";

/* Run the command at argv[0]; its own arguments follow. */
static int main_dispatch(struct cli *cli, int argc, char **argv)
{
    const char *cmd = argv[0];
    if (strcmp(cmd, "status") == 0)
        return status_run(cli, argc - 1, argv + 1);
    if (strcmp(cmd, "jobs") == 0)
        return jobs_run(cli, argc - 1, argv + 1);
    if (strcmp(cmd, "schedules") == 0)
        return schedules_run(cli, argc - 1, argv + 1);
    if (strcmp(cmd, "help") == 0) {
        fputs(main_usage, stdout);
        return CLI_EXIT_OK;
    }
    return cli_usage_error("", "unknown command '%s'", cmd);
}

int main(int argc, char **argv)
{
    struct cli cli = {.timeout_ms = 30000};
    bool version = false;
    const struct flag spec[] = {{"version", NULL, &version}, {NULL, NULL, NULL}};
    struct flags f = {.cmd = "", .spec = spec, .stop_at_pos = true};
    int rc = flags_parse(&f, &cli, argc - 1, argv + 1);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (f.help) {
        fputs(main_usage, stdout);
        return CLI_EXIT_OK;
    }
    if (version) {
        printf("reseolio %s\n", RESEOLIO_CLI_VERSION);
        return CLI_EXIT_OK;
    }
    if (f.rest >= argc - 1)
        return cli_usage_error("", "no command given");
    rc = main_dispatch(&cli, argc - 1 - f.rest, argv + 1 + f.rest);
    cli_close(&cli);
    if ((fflush(stdout) != 0 || ferror(stdout)) && rc == CLI_EXIT_OK) {
        cli_error("cannot write the output");
        rc = CLI_EXIT_FAILED;
    }
    return rc;
}
