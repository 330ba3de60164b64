/*
 * `reseolio status`: one STATS request (rs_stats), shown as blocks of text or as one JSON
 * document. Exit status 3 when the daemon answers but its PostgreSQL session is down.
 */
#include "status.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flags.h"

static const char status_usage[] =
    "usage: reseolio status\n"
    "\n"
    "What the daemon this tool talks to says of itself (version, node, pid, uptime, clients),\n"
    "of its database (storage, schema, whether its session is up), of the daemons on that\n"
    "database (their heartbeats), of the queues (jobs pending and running by function, on the\n"
    "whole database, counted at most once a second), and its own counters by function since it\n"
    "started (enqueued, started, succeeded, failed, dead, timed out, reclaimed).\n"
    "\n"
    "Exit status 0; 3 when the daemon cannot be reached, or when it answers but its PostgreSQL\n"
    "session is down (everything it knows is printed all the same).\n";

/* The socket this tool talks to, for people. */
static void status_socket(const struct cli *cli, char *buf, size_t size)
{
    if (cli->socket != NULL)
        snprintf(buf, size, "%s", cli->socket);
    else if (rs_client_default_socket(buf, size) != 0)
        snprintf(buf, size, "?");
}

/* The "daemon" object. */
static json_t *status_daemon_json(const struct rs_stats *s, const struct rs_client_welcome *w,
                                  const char *socket)
{
    return json_pack("{s:s, s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:I}", "server", s->server,
                     "protocol", (int)w->version, "node", s->node, "pid", (json_int_t)s->pid,
                     "started_at", (json_int_t)s->started_at, "uptime_ms", (json_int_t)s->uptime_ms,
                     "connections", (json_int_t)s->connections, "workers", (json_int_t)s->workers,
                     "running", (json_int_t)s->running, "socket", socket, "max_frame",
                     (json_int_t)w->max_frame);
}

/* The "database" object. */
static json_t *status_database_json(const struct rs_stats *s)
{
    json_t *counted = s->counted_at != 0 ? json_integer(s->counted_at) : json_null();
    json_t *err = s->count_error != NULL ? json_string(s->count_error) : json_null();
    return json_pack("{s:s, s:s, s:b, s:o, s:o}", "storage", s->storage, "schema", s->schema, "up",
                     s->storage_up, "counted_at", counted, "count_error", err);
}

/* The three lists as JSON arrays; NULL when memory ran out. */
static json_t *status_lists_json(const struct rs_stats *s, json_t **queues, json_t **nodes)
{
    json_t *fns = json_array();
    *queues = json_array();
    *nodes = json_array();
    bool ok = fns != NULL && *queues != NULL && *nodes != NULL;
    for (size_t i = 0; ok && i < s->nfunctions; i++) {
        const struct rs_stats_function *f = &s->functions[i];
        ok = json_array_append_new(
                 fns, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "name",
                                f->name, "enqueued", (json_int_t)f->enqueued, "deduplicated",
                                (json_int_t)f->deduplicated, "started", (json_int_t)f->started,
                                "succeeded", (json_int_t)f->succeeded, "failed",
                                (json_int_t)f->failed, "dead", (json_int_t)f->dead, "timed_out",
                                (json_int_t)f->timed_out, "reclaimed", (json_int_t)f->reclaimed,
                                "duration_count", (json_int_t)f->duration_count, "duration_sum_us",
                                (json_int_t)f->duration_sum_us)) == 0;
    }
    for (size_t i = 0; ok && i < s->nqueues; i++) {
        const struct rs_stats_queue *q = &s->queues[i];
        ok = json_array_append_new(*queues, json_pack("{s:s, s:I, s:I}", "name", q->name, "pending",
                                                      (json_int_t)q->pending, "running",
                                                      (json_int_t)q->running)) == 0;
    }
    for (size_t i = 0; ok && i < s->nnodes; i++) {
        const struct rs_stats_node *n = &s->nodes[i];
        ok = json_array_append_new(*nodes,
                                   json_pack("{s:s, s:s, s:I, s:I, s:I}", "id", n->id, "host",
                                             n->host, "pid", (json_int_t)n->pid, "heartbeat_age_ms",
                                             (json_int_t)n->heartbeat_age_ms, "started_at",
                                             (json_int_t)n->started_at)) == 0;
    }
    if (!ok) {
        json_decref(fns);
        json_decref(*queues);
        json_decref(*nodes);
        *queues = *nodes = NULL;
        return NULL;
    }
    return fns;
}

/* The whole document; NULL when memory ran out. */
static json_t *status_json(const struct rs_stats *s, const struct rs_client_welcome *w,
                           const char *socket)
{
    json_t *queues, *nodes, *fns = status_lists_json(s, &queues, &nodes);
    if (fns == NULL)
        return NULL;
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:b}", "daemon", status_daemon_json(s, w, socket),
                     "database", status_database_json(s), "nodes", nodes, "queues", queues,
                     "functions", fns, "truncated", s->truncated);
}

/* "3d 04:05:06" or "04:05:06" for a duration in ms. */
static void status_duration(uint64_t ms, char *buf, size_t size)
{
    uint64_t t = ms / 1000, d = t / 86400;
    if (d > 0)
        snprintf(buf, size, "%" PRIu64 "d %02u:%02u:%02u", d, (unsigned)(t / 3600 % 24),
                 (unsigned)(t / 60 % 60), (unsigned)(t % 60));
    else
        snprintf(buf, size, "%02u:%02u:%02u", (unsigned)(t / 3600), (unsigned)(t / 60 % 60),
                 (unsigned)(t % 60));
}

/* Widen the name column w for name; a very long name only pushes its own row. */
static void status_widen(int *w, const char *name)
{
    size_t len = strlen(name);
    if (len > (size_t)*w && len <= 60)
        *w = (int)len;
}

/* The daemon and database blocks. */
static void status_print_head(const struct rs_stats *s, const struct rs_client_welcome *w,
                              const char *socket)
{
    char up[32], at[40];
    status_duration(s->uptime_ms, up, sizeof(up));
    printf("%-10s %s, protocol %u, pid %" PRIu64 ", up %s\n", "daemon", s->server,
           (unsigned)w->version, s->pid, up);
    printf("%-10s %s\n", "node", s->node);
    printf("%-10s %s\n", "socket", socket);
    printf("%-10s %" PRIu64 " connection(s), %" PRIu64 " worker(s), %" PRIu64
           " attempt(s) running here\n",
           "clients", s->connections, s->workers, s->running);
    printf("%-10s %s, schema %s: %s\n", "storage", s->storage, s->schema,
           s->storage_up ? "up" : "DOWN");
    if (s->counted_at != 0)
        cli_format_time(s->counted_at, at, sizeof(at));
    printf("%-10s %s\n", "counted", s->counted_at != 0 ? at : "never");
    if (s->count_error != NULL)
        printf("%-10s %s\n", "count", s->count_error);
    if (s->truncated)
        printf("%-10s lists cut to fit the frame limit\n", "note");
}

/* The nodes, queues and counters tables. */
static void status_print_tables(const struct rs_stats *s)
{
    printf("\nNODES\n%-32s %-20s %8s %12s %s\n", "ID", "HOST", "PID", "HEARTBEAT", "STARTED");
    for (size_t i = 0; i < s->nnodes; i++) {
        const struct rs_stats_node *n = &s->nodes[i];
        char at[40], age[32];
        cli_format_time(n->started_at, at, sizeof(at));
        snprintf(age, sizeof(age), "%.1fs ago", (double)n->heartbeat_age_ms / 1000.0);
        printf("%-32s %-20s %8" PRIu64 " %12s %s%s\n", n->id, n->host, n->pid, age, at,
               strcmp(n->id, s->node) == 0 ? "  (this daemon)" : "");
    }

    int w = 8;
    for (size_t i = 0; i < s->nqueues; i++)
        status_widen(&w, s->queues[i].name);
    printf("\nQUEUES (whole database)\n%-*s %8s %8s\n", w, "FUNCTION", "PENDING", "RUNNING");
    if (s->nqueues == 0)
        printf("(no pending or running jobs)\n");
    for (size_t i = 0; i < s->nqueues; i++)
        printf("%-*s %8" PRIu64 " %8" PRIu64 "\n", w, s->queues[i].name, s->queues[i].pending,
               s->queues[i].running);

    w = 8;
    for (size_t i = 0; i < s->nfunctions; i++)
        status_widen(&w, s->functions[i].name);
    printf("\nCOUNTERS (this daemon, since it started)\n%-*s %8s %8s %9s %8s %8s %9s %9s %9s\n", w,
           "FUNCTION", "ENQUEUED", "STARTED", "SUCCEEDED", "FAILED", "DEAD", "TIMED_OUT",
           "RECLAIMED", "AVG_MS");
    if (s->nfunctions == 0)
        printf("(nothing counted yet)\n");
    for (size_t i = 0; i < s->nfunctions; i++) {
        const struct rs_stats_function *f = &s->functions[i];
        char avg[24] = "-";
        if (f->duration_count > 0)
            snprintf(avg, sizeof(avg), "%.1f",
                     (double)f->duration_sum_us / (double)f->duration_count / 1000.0);
        printf("%-*s %8" PRIu64 " %8" PRIu64 " %9" PRIu64 " %8" PRIu64 " %8" PRIu64 " %9" PRIu64
               " %9" PRIu64 " %9s\n",
               w, f->name, f->enqueued, f->started, f->succeeded, f->failed, f->dead, f->timed_out,
               f->reclaimed, avg);
    }
}

/* Parse, connect, ask, print. */
int status_run(struct cli *cli, int argc, char **argv)
{
    const struct flag spec[] = {{NULL, NULL, NULL}};
    struct flags f = {.cmd = "status", .spec = spec};
    int rc = flags_parse(&f, cli, argc, argv);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (f.help) {
        fputs(status_usage, stdout);
        return CLI_EXIT_OK;
    }
    if ((rc = cli_connect(cli)) != CLI_EXIT_OK)
        return rc;
    struct rs_stats *s = NULL;
    enum rs_client_status st = rs_stats(cli->client, &s);
    if (st != RS_CLIENT_OK)
        return cli_call_failed(cli, st, "cannot read the daemon's statistics");
    char socket[128];
    status_socket(cli, socket, sizeof(socket));
    const struct rs_client_welcome *w = rs_client_welcome(cli->client);
    if (cli->json) {
        rc = cli_print_json(status_json(s, w, socket));
    } else {
        status_print_head(s, w, socket);
        status_print_tables(s);
        rc = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILED;
    }
    if (rc == CLI_EXIT_OK && !s->storage_up) {
        cli_error("the daemon's PostgreSQL session is down");
        rc = CLI_EXIT_UNAVAILABLE;
    }
    rs_stats_free(s);
    return rc;
}
