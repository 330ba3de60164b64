/*
 * The Prometheus text exposition of the daemon's counters and gauges.
 */
#include "metrics_text.h"

#include <event2/buffer.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "gauges.h"
#include "metrics.h"
#include "pgconn.h"
#include "server.h"
#include "waiters.h"

/* Series of the per-function job counters, in enum metrics_job_event order. */
static const struct {
    const char *name;
    const char *help;
} metrics_text_jobs[METRICS_JOB_EVENTS] = {
    {"reseolio_jobs_enqueued_total", "Jobs created by ENQUEUE (committed)."},
    {"reseolio_jobs_deduplicated_total",
     "ENQUEUEs answered with an existing job of the same idempotency key."},
    {"reseolio_jobs_started_total", "Attempts dispatched to a worker."},
    {"reseolio_jobs_succeeded_total", "Attempts whose success was committed."},
    {"reseolio_jobs_failed_total", "Attempts whose failure was committed (retried or dead)."},
    {"reseolio_jobs_dead_total",
     "Jobs this daemon made dead: on a failed attempt, a timeout, a reclaim or a lost worker."},
    {"reseolio_jobs_timed_out_total",
     "Attempts whose timeout this daemon committed (its own at the deadline, other daemons' "
     "after a grace)."},
    {"reseolio_jobs_reclaimed_total",
     "Attempts this daemon took back from daemons whose heartbeat lapsed."},
};

/* Write s as a label value: backslash, double quote and newline escaped. */
static void metrics_text_label(struct evbuffer *out, const char *s)
{
    const char *run = s;
    for (; *s != '\0'; s++) {
        const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
        if (esc == NULL)
            continue;
        evbuffer_add(out, run, (size_t)(s - run));
        evbuffer_add(out, esc, 2);
        run = s + 1;
    }
    evbuffer_add(out, run, (size_t)(s - run));
}

static void metrics_text_head(struct evbuffer *out, const char *name, const char *type,
                              const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metrics_text_one(struct evbuffer *out, const char *name, const char *type,
                             const char *help, uint64_t v)
{
    metrics_text_head(out, name, type, help);
    evbuffer_add_printf(out, "%s %" PRIu64 "\n", name, v);
}

/* Counters and histograms by function. */
static void metrics_text_functions(struct evbuffer *out, const struct metrics *m)
{
    for (int ev = 0; ev < METRICS_JOB_EVENTS; ev++) {
        metrics_text_head(out, metrics_text_jobs[ev].name, "counter", metrics_text_jobs[ev].help);
        for (uint32_t i = 0; i <= METRICS_MAX_FUNCTIONS; i++) {
            const struct metrics_fn *f = m->fns[i];
            if (f == NULL || (i == METRICS_MAX_FUNCTIONS && f->jobs[ev] == 0))
                continue;
            evbuffer_add_printf(out, "%s{function=\"", metrics_text_jobs[ev].name);
            metrics_text_label(out, f->name);
            evbuffer_add_printf(out, "\"} %" PRIu64 "\n", f->jobs[ev]);
        }
    }
    metrics_text_head(out, "reseolio_attempt_duration_seconds", "histogram",
                      "Time from DISPATCH to ACK of an attempt, by function.");
    for (uint32_t i = 0; i <= METRICS_MAX_FUNCTIONS; i++) {
        const struct metrics_fn *f = m->fns[i];
        if (f == NULL || f->duration_count == 0)
            continue;
        uint64_t cum = 0;
        for (uint32_t b = 0; b <= METRICS_BUCKETS; b++) {
            cum += f->buckets[b];
            evbuffer_add_printf(out, "reseolio_attempt_duration_seconds_bucket{function=\"");
            metrics_text_label(out, f->name);
            if (b < METRICS_BUCKETS)
                evbuffer_add_printf(out, "\",le=\"%g\"} %" PRIu64 "\n",
                                    metrics_bucket_ms[b] / 1000.0, cum);
            else
                evbuffer_add_printf(out, "\",le=\"+Inf\"} %" PRIu64 "\n", cum);
        }
        evbuffer_add_printf(out, "reseolio_attempt_duration_seconds_sum{function=\"");
        metrics_text_label(out, f->name);
        evbuffer_add_printf(out, "\"} %.6f\n", (double)f->duration_sum_us / 1e6);
        evbuffer_add_printf(out, "reseolio_attempt_duration_seconds_count{function=\"");
        metrics_text_label(out, f->name);
        evbuffer_add_printf(out, "\"} %" PRIu64 "\n", f->duration_count);
    }
}

/* The last queue-depth count. */
static void metrics_text_depth(struct evbuffer *out, const struct gauges *g)
{
    metrics_text_head(out, "reseolio_queue_jobs", "gauge",
                      "Jobs pending or running on the database, by function (counted on scrape, "
                      "cached 1 s).");
    for (size_t i = 0; g != NULL && i < g->ndepth; i++) {
        for (int st = 0; st < 2; st++) {
            evbuffer_add_printf(out, "reseolio_queue_jobs{function=\"");
            metrics_text_label(out, g->depth[i].name);
            evbuffer_add_printf(out, "\",status=\"%s\"} %" PRId64 "\n",
                                st == 0 ? "pending" : "running",
                                st == 0 ? g->depth[i].pending : g->depth[i].running);
        }
    }
    int64_t age = g != NULL && g->at_ms != 0 ? engine_now_ms() - g->at_ms : -1;
    metrics_text_head(out, "reseolio_queue_count_age_seconds", "gauge",
                      "Age of the queue counts above; -1 when never counted.");
    evbuffer_add_printf(out, "reseolio_queue_count_age_seconds %.3f\n",
                        age < 0 ? -1.0 : (double)age / 1000.0);
}

void metrics_text_write(struct evbuffer *out, const struct server *s)
{
    const struct metrics *m = metrics_get();
    const struct engine *e = s->engine;
    char why[160];
    metrics_text_one(out, "reseolio_storage_up", "gauge",
                     "1 when the daemon's PostgreSQL session is up.",
                     metrics_health(s, why, sizeof(why)) ? 1 : 0);
    metrics_text_head(out, "reseolio_start_time_seconds", "gauge", "When the daemon started.");
    evbuffer_add_printf(out, "reseolio_start_time_seconds %.3f\n", (double)m->started_ms / 1000.0);
    metrics_text_functions(out, m);
    metrics_text_one(out, "reseolio_functions_tracked", "gauge",
                     "Function names with their own series (at most 1000; later ones count "
                     "under function=\"_other\").",
                     m->nfns);
    metrics_text_depth(out, e != NULL ? e->gauges : NULL);
    metrics_text_one(out, "reseolio_connections", "gauge", "Client connections open now.",
                     s->nconns);
    metrics_text_one(out, "reseolio_connections_total", "counter", "Client connections accepted.",
                     m->conns_total);
    metrics_text_one(out, "reseolio_connections_rejected_total", "counter",
                     "Client connections refused (connection limit, foreign uid).",
                     m->conns_rejected);
    metrics_text_one(out, "reseolio_frames_received_total", "counter",
                     "Protocol frames received from clients.", m->frames_in);
    metrics_text_one(out, "reseolio_frames_sent_total", "counter",
                     "Protocol frames queued to clients.", m->frames_out);
    metrics_text_head(out, "reseolio_protocol_errors_total", "counter",
                      "ERROR messages sent to clients, by code.");
    for (int c = 1; c < RS_CODE_COUNT; c++)
        if (m->errors[c] != 0 && rs_code_name((enum rs_code)c) != NULL)
            evbuffer_add_printf(out, "reseolio_protocol_errors_total{code=\"%s\"} %" PRIu64 "\n",
                                rs_code_name((enum rs_code)c), m->errors[c]);
    struct pgconn_stats a = {0}, b = {0};
    if (e != NULL && e->db != NULL)
        pgconn_stats(e->db, &a);
    if (e != NULL && e->listen != NULL)
        pgconn_stats(e->listen, &b);
    metrics_text_one(out, "reseolio_pg_round_trips_total", "counter",
                     "Transactions (pipelined batches) answered by PostgreSQL.",
                     a.round_trips + b.round_trips);
    metrics_text_one(out, "reseolio_pg_errors_total", "counter",
                     "Failed PostgreSQL transactions and lost sessions.", a.errors + b.errors);
    metrics_text_one(out, "reseolio_pg_reconnects_total", "counter",
                     "PostgreSQL sessions set up again after one was lost.",
                     a.reconnects + b.reconnects);
    metrics_text_one(out, "reseolio_waiters", "gauge", "AWAITs waiting for a job to end.",
                     e != NULL && e->waiters != NULL ? waiters_count(e->waiters) : 0);
}

bool metrics_health(const struct server *s, char *why, size_t whylen)
{
    const struct engine *e = s->engine;
    if (s->stopping || (e != NULL && e->stopping)) {
        snprintf(why, whylen, "stopping");
        return false;
    }
    if (e == NULL || (e->db == NULL && !e->boot_failed)) {
        snprintf(why, whylen, "starting: the storage is being set up");
        return false;
    }
    if (e->db == NULL) {
        snprintf(why, whylen, "storage unavailable: setting it up failed; retrying");
        return false;
    }
    if (!pgconn_ready(e->db)) {
        snprintf(why, whylen, "storage unreachable: no PostgreSQL session; reconnecting");
        return false;
    }
    snprintf(why, whylen, "ok: storage up (node %s)", s->node_id);
    return true;
}
