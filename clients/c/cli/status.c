/*
 * `reseolio status`. For each status, LIST pages (newest first) are read until the cap; each
 * job adds one to its function's count. A count at the cap with more pages left is a lower
 * bound, and is marked so ("capped" in JSON, "+" in text).
 */
#include "status.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flags.h"
#include "jobview.h"

#define STATUS_PAGE        1000  /* LIST's largest page */
#define STATUS_DEFAULT_CAP 10000 /* jobs counted per status by default */

static const char status_usage[] =
    "usage: reseolio status [--max-jobs N]\n"
    "\n"
    "The daemon this tool talks to (version, node, storage, socket) and its jobs counted by\n"
    "function and status.\n"
    "  --max-jobs N   count at most N jobs per status, 1..1000000 (default 10000)\n"
    "\n"
    "The counts are computed by this tool from LIST pages, newest jobs first, because the\n"
    "protocol has no statistics message yet: a count shown as N+ (\"capped\": true in JSON)\n"
    "stopped at the cap and there are more.\n";

/* The counts: a JSON object used as a hash map, name -> [count per status]. */
struct status_counts {
    json_t *by_name;
    json_int_t total[JOBVIEW_STATUSES];
    bool capped[JOBVIEW_STATUSES];
};

/* Add one job of function name in status s. Returns 0, or -1 when memory ran out. */
static int status_add(struct status_counts *sc, const char *name, enum rs_job_status s)
{
    json_t *row = json_object_get(sc->by_name, name);
    if (row == NULL) {
        row = json_pack("[iiiii]", 0, 0, 0, 0, 0);
        if (row == NULL || json_object_set_new(sc->by_name, name, row) != 0)
            return -1;
    }
    json_t *cell = json_array_get(row, (size_t)s);
    sc->total[s]++;
    return json_integer_set(cell, json_integer_value(cell) + 1);
}

/* Count the jobs in status s, up to cap. Returns CLI_EXIT_OK or the exit status. */
static int status_count(struct cli *cli, struct status_counts *sc, enum rs_job_status s,
                        int64_t cap)
{
    struct rs_list_filter filter = {.by_status = true, .status = s};
    uint64_t cursor = 0;
    int64_t counted = 0;
    do {
        int64_t left = cap - counted;
        filter.limit = (unsigned)(left < STATUS_PAGE ? left : STATUS_PAGE);
        struct rs_job_list *l = NULL;
        enum rs_client_status st = rs_list(cli->client, &filter, cursor, &l);
        if (st != RS_CLIENT_OK)
            return cli_call_failed(cli, st, "cannot count jobs");
        int rc = 0;
        for (size_t i = 0; i < l->count && rc == 0; i++)
            rc = status_add(sc, l->jobs[i].name, s);
        counted += (int64_t)l->count;
        cursor = l->next;
        rs_job_list_free(l);
        if (rc != 0) {
            cli_error("out of memory counting jobs");
            return CLI_EXIT_FAILED;
        }
    } while (cursor != 0 && counted < cap);
    sc->capped[s] = cursor != 0;
    return CLI_EXIT_OK;
}

/* qsort order of function names. */
static int status_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The function names, sorted; NULL when memory ran out. The caller frees the array only. */
static const char **status_names(const struct status_counts *sc, size_t *n)
{
    *n = json_object_size(sc->by_name);
    const char **names = malloc((*n > 0 ? *n : 1) * sizeof(*names));
    if (names == NULL)
        return NULL;
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(sc->by_name, k, v)
    {
        names[i++] = k;
    }
    qsort(names, *n, sizeof(*names), status_cmp);
    return names;
}

/* The "daemon" object: what WELCOME said, and the socket. */
static json_t *status_daemon_json(const struct rs_client_welcome *w, const char *socket)
{
    return json_pack("{s:s, s:i, s:s, s:s, s:I, s:s}", "server", w->server, "protocol",
                     (int)w->version, "node", w->node, "storage", w->storage, "max_frame",
                     (json_int_t)w->max_frame, "socket", socket);
}

/* One function's counts: {"name", "pending", ..., "cancelled"}. */
static json_t *status_fn_json(const struct status_counts *sc, const char *name)
{
    json_t *row = json_object_get(sc->by_name, name);
    json_t *fn = json_pack("{s:s}", "name", name);
    for (int s = 0; fn != NULL && s < JOBVIEW_STATUSES; s++)
        if (json_object_set(fn, rs_job_status_name((enum rs_job_status)s),
                            json_array_get(row, (size_t)s)) != 0) {
            json_decref(fn);
            fn = NULL;
        }
    return fn;
}

/* The "jobs" object: totals per status, and one entry per function, by name. */
static json_t *status_jobs_json(const struct status_counts *sc, int64_t cap)
{
    size_t n;
    const char **names = status_names(sc, &n);
    if (names == NULL)
        return NULL;
    json_t *totals = json_object(), *fns = json_array();
    bool ok = totals != NULL && fns != NULL;
    for (int s = 0; ok && s < JOBVIEW_STATUSES; s++)
        ok = json_object_set_new(
                 totals, rs_job_status_name((enum rs_job_status)s),
                 json_pack("{s:I, s:b}", "count", sc->total[s], "capped", sc->capped[s])) == 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = json_array_append_new(fns, status_fn_json(sc, names[i])) == 0;
    free(names);
    if (!ok) {
        json_decref(totals);
        json_decref(fns);
        return NULL;
    }
    return json_pack("{s:s, s:I, s:o, s:o}", "counted_from", "LIST", "max_jobs_per_status",
                     (json_int_t)cap, "totals", totals, "functions", fns);
}

/* One count for the table: "N", or "N+" when the count stopped at the cap. */
static void status_print_cell(json_int_t n, bool capped, int width)
{
    char cell[32];
    snprintf(cell, sizeof(cell), "%lld%s", (long long)n, capped ? "+" : "");
    printf(" %*s", width, cell);
}

/* The table of counts, one row per function. Returns 0, or -1 when memory ran out. */
static int status_print_counts(const struct status_counts *sc, int64_t cap)
{
    static const int widths[JOBVIEW_STATUSES] = {8, 8, 8, 8, 10};
    size_t n;
    const char **names = status_names(sc, &n);
    if (names == NULL)
        return -1;
    int w = 8; /* the widest name, but a very long one only pushes its own row */
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        if (len > (size_t)w && len <= 60)
            w = (int)len;
    }
    printf("%-*s %8s %8s %8s %8s %10s\n", w, "FUNCTION", "PENDING", "RUNNING", "SUCCESS", "DEAD",
           "CANCELLED");
    for (size_t i = 0; i < n; i++) {
        json_t *row = json_object_get(sc->by_name, names[i]);
        printf("%-*s", w, names[i]);
        for (int s = 0; s < JOBVIEW_STATUSES; s++)
            status_print_cell(json_integer_value(json_array_get(row, (size_t)s)), sc->capped[s],
                              widths[s]);
        putchar('\n');
    }
    printf("%-*s", w, "(all)");
    for (int s = 0; s < JOBVIEW_STATUSES; s++)
        status_print_cell(sc->total[s], sc->capped[s], widths[s]);
    printf("\n\ncounted by this tool from LIST, newest first, at most %" PRId64
           " jobs per status;\nN+ means the count stopped there (the protocol has no statistics "
           "message yet)\n",
           cap);
    free(names);
    return 0;
}

/* The daemon block of the text output. */
static void status_print_daemon(const struct rs_client_welcome *w, const char *socket)
{
    printf("%-10s %s, protocol %u\n", "daemon", w->server, (unsigned)w->version);
    printf("%-10s %s\n", "node", w->node);
    printf("%-10s %s\n", "storage", w->storage);
    printf("%-10s %s\n", "socket", socket);
    printf("%-10s %u bytes\n\n", "max frame", (unsigned)w->max_frame);
}

/* Print what was gathered. */
static int status_print(struct cli *cli, const struct status_counts *sc, int64_t cap)
{
    char socket[128];
    if (cli->socket != NULL)
        snprintf(socket, sizeof(socket), "%s", cli->socket);
    else if (rs_client_default_socket(socket, sizeof(socket)) != 0)
        snprintf(socket, sizeof(socket), "?");
    const struct rs_client_welcome *w = rs_client_welcome(cli->client);
    if (cli->json)
        return cli_print_json(json_pack("{s:o, s:o}", "daemon", status_daemon_json(w, socket),
                                        "jobs", status_jobs_json(sc, cap)));
    status_print_daemon(w, socket);
    if (status_print_counts(sc, cap) != 0) {
        cli_error("out of memory printing the counts");
        return CLI_EXIT_FAILED;
    }
    return CLI_EXIT_OK;
}

/* Parse, connect, count every status, print. */
int status_run(struct cli *cli, int argc, char **argv)
{
    const char *max_jobs = NULL;
    const struct flag spec[] = {{"max-jobs", &max_jobs, NULL}, {NULL, NULL, NULL}};
    struct flags f = {.cmd = "status", .spec = spec};
    int rc = flags_parse(&f, cli, argc, argv);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (f.help) {
        fputs(status_usage, stdout);
        return CLI_EXIT_OK;
    }
    int64_t cap = STATUS_DEFAULT_CAP;
    if (max_jobs != NULL &&
        (rc = flags_int(f.cmd, "--max-jobs", max_jobs, 1, 1000000, &cap)) != CLI_EXIT_OK)
        return rc;
    if ((rc = cli_connect(cli)) != CLI_EXIT_OK)
        return rc;
    struct status_counts sc = {.by_name = json_object()};
    if (sc.by_name == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_FAILED;
    }
    for (int s = 0; rc == CLI_EXIT_OK && s < JOBVIEW_STATUSES; s++)
        rc = status_count(cli, &sc, (enum rs_job_status)s, cap);
    if (rc == CLI_EXIT_OK)
        rc = status_print(cli, &sc, cap);
    json_decref(sc.by_name);
    return rc;
}
