/*
 * `reseolio jobs list`. --limit counts jobs, not pages: pages of at most 1000 (LIST's cap)
 * are fetched until the limit or the last page, and the last one asks for exactly what is
 * left, so the cursor printed at the end is exact.
 */
#include "jobs_list.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flags.h"
#include "jobview.h"

/* LIST's largest page (docs/protocol.md §7). */
#define JOBS_LIST_PAGE 1000

static const char jobs_list_usage[] =
    "usage: reseolio jobs list [--status S] [--name N] [--parent ID] [--limit N]\n"
    "                          [--after CURSOR] [--all]\n"
    "\n"
    "Jobs, newest first.\n"
    "  --status S       only jobs in status S: pending, running, success, dead, cancelled\n"
    "  --name N         only jobs of function N\n"
    "  --parent ID      only the steps of job ID (durable calls its handler made)\n"
    "  --limit N        at most N jobs, 1..100000000 (default 100)\n"
    "  --after CURSOR   only jobs older than the cursor (the \"next\" of an earlier list)\n"
    "  --all            every job that matches, however many (not with --limit)\n"
    "\n"
    "With --json: {\"jobs\": [job, ...], \"next\": CURSOR or null}; each job as in\n"
    "'reseolio jobs show --json'. Without it, a table; when more jobs match, the command for\n"
    "the next page is printed on stderr.\n";

/* The filters and the page to start from, read from the command line. */
struct jobs_list_args {
    struct rs_list_filter filter;
    int64_t max; /* jobs to show at most; 0: all */
    uint64_t cursor;
    bool help; /* --help: print the usage, do nothing else */
};

/* Read the options. Returns CLI_EXIT_OK, or CLI_EXIT_USAGE after reporting an error. */
static int jobs_list_parse(struct cli *cli, int argc, char **argv, struct jobs_list_args *a)
{
    const char *status = NULL, *name = NULL, *limit = NULL, *after = NULL, *parent = NULL;
    bool all = false;
    const struct flag spec[] = {
        {"status", &status, NULL}, {"name", &name, NULL},     {"limit", &limit, NULL},
        {"after", &after, NULL},   {"parent", &parent, NULL}, {"all", NULL, &all},
        {NULL, NULL, NULL},
    };
    struct flags f = {.cmd = "jobs list", .spec = spec};
    memset(a, 0, sizeof(*a));
    a->max = 100;
    int rc = flags_parse(&f, cli, argc, argv);
    a->help = f.help;
    if (rc != CLI_EXIT_OK || a->help)
        return rc;
    if (status != NULL) {
        if (jobview_status_parse(status, &a->filter.status) != 0)
            return cli_usage_error(f.cmd,
                                   "--status must be pending, running, success, dead or "
                                   "cancelled, not '%s'",
                                   status);
        a->filter.by_status = true;
    }
    if (name != NULL && (name[0] == '\0' || strlen(name) > 255))
        return cli_usage_error(f.cmd, "--name must be 1..255 bytes");
    a->filter.name = name;
    if (all && limit != NULL)
        return cli_usage_error(f.cmd, "--all and --limit exclude each other");
    if (limit != NULL && (rc = flags_int(f.cmd, "--limit", limit, 1, 100000000, &a->max)) != 0)
        return rc;
    if (all)
        a->max = 0;
    if (parent != NULL) {
        int64_t id;
        if ((rc = flags_int(f.cmd, "--parent", parent, 1, INT64_MAX, &id)) != 0)
            return rc;
        a->filter.parent = (uint64_t)id;
    }
    if (after != NULL) {
        int64_t cursor;
        if ((rc = flags_int(f.cmd, "--after", after, 1, INT64_MAX, &cursor)) != 0)
            return rc;
        a->cursor = (uint64_t)cursor;
    }
    return CLI_EXIT_OK;
}

/* Print one page: rows, or JSON objects that continue the "jobs" array. */
static int jobs_list_emit(struct cli *cli, const struct rs_job_list *l, size_t shown)
{
    for (size_t i = 0; i < l->count; i++) {
        if (!cli->json) {
            if (shown + i == 0)
                jobview_print_header(stdout);
            jobview_print_row(stdout, &l->jobs[i]);
            continue;
        }
        json_t *j = jobview_json(&l->jobs[i]);
        if (j == NULL) {
            cli_error("out of memory printing job %" PRIu64, l->jobs[i].id);
            return CLI_EXIT_FAILED;
        }
        /* Indented as if the whole document were dumped at once: each line of the job's
         * own dump is shifted under "jobs" (JSON strings hold no raw newlines). */
        char *text = json_dumps(j, JSON_INDENT(2) | cli_json_precision(j));
        json_decref(j);
        if (text == NULL) {
            cli_error("out of memory printing job %" PRIu64, l->jobs[i].id);
            return CLI_EXIT_FAILED;
        }
        fputs(shown + i == 0 ? "\n    " : ",\n    ", stdout);
        for (const char *p = text; *p != '\0'; p++) {
            if (*p == '\n')
                fputs("\n    ", stdout);
            else
                putchar(*p);
        }
        free(text);
    }
    return CLI_EXIT_OK;
}

/* Fetch pages until the limit or the end; pages are printed as they come. */
static int jobs_list_pages(struct cli *cli, struct jobs_list_args *a, size_t *shown)
{
    for (;;) {
        int64_t left = a->max == 0 ? JOBS_LIST_PAGE : a->max - (int64_t)*shown;
        a->filter.limit = (unsigned)(left < JOBS_LIST_PAGE ? left : JOBS_LIST_PAGE);
        struct rs_job_list *l = NULL;
        enum rs_client_status st = rs_list(cli->client, &a->filter, a->cursor, &l);
        if (st != RS_CLIENT_OK)
            return cli_call_failed(cli, st, "cannot list jobs");
        int rc = jobs_list_emit(cli, l, *shown);
        *shown += l->count;
        a->cursor = l->next;
        rs_job_list_free(l);
        if (rc != CLI_EXIT_OK)
            return rc;
        if (a->cursor == 0 || (a->max != 0 && (int64_t)*shown >= a->max))
            return CLI_EXIT_OK;
    }
}

/* Parse, connect, page, and close the document or say where the next page starts. */
int jobs_list_run(struct cli *cli, int argc, char **argv)
{
    struct jobs_list_args a;
    int rc = jobs_list_parse(cli, argc, argv, &a);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (a.help) {
        fputs(jobs_list_usage, stdout);
        return CLI_EXIT_OK;
    }
    if ((rc = cli_connect(cli)) != CLI_EXIT_OK)
        return rc;
    if (cli->json)
        fputs("{\n  \"jobs\": [", stdout);
    size_t shown = 0;
    rc = jobs_list_pages(cli, &a, &shown);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (cli->json) {
        fputs(shown > 0 ? "\n  ],\n" : "],\n", stdout);
        if (a.cursor != 0)
            printf("  \"next\": %" PRIu64 "\n}\n", a.cursor);
        else
            fputs("  \"next\": null\n}\n", stdout);
    } else if (shown == 0) {
        puts("no jobs");
    } else if (a.cursor != 0) {
        fprintf(stderr, "more jobs: add --after %" PRIu64 " for the next page\n", a.cursor);
    }
    return CLI_EXIT_OK;
}
