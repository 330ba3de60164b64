/*
 * STATS: read the metrics table, the server and the cached queue and node counts, and answer
 * STATISTICS, cutting the lists when the reply would not fit the client's frame limit.
 */
#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "engine.h"
#include "gauges.h"
#include "log.h"
#include "metrics.h"
#include "metrics_text.h"
#include "request.h"
#include "scheduler.h"
#include "server.h"

/* A STATS waiting for the queue count. Owner: the gauges' callback (or stats_request). */
struct stats_req {
    struct request req; /* the connection and request id to answer */
    struct server *s;   /* not owned */
    struct gauges *g;   /* not owned; NULL without an engine */
};

/* A wire string for a C string. */
static struct rs_str stats_str(const char *s)
{
    return (struct rs_str){s, (uint32_t)strlen(s)};
}

/* The counters of every function with a row ("_other" only once something counted there). */
static uint32_t stats_functions(struct rs_statistics_fn *out)
{
    const struct metrics *m = metrics_get();
    uint32_t n = 0;
    for (uint32_t i = 0; i <= METRICS_MAX_FUNCTIONS; i++) {
        const struct metrics_fn *f = m->fns[i];
        if (f == NULL)
            continue;
        uint64_t any = f->duration_count;
        for (int ev = 0; ev < METRICS_JOB_EVENTS; ev++)
            any |= f->jobs[ev];
        if (i == METRICS_MAX_FUNCTIONS && any == 0)
            continue;
        out[n++] = (struct rs_statistics_fn){
            .name = stats_str(f->name),
            .enqueued = f->jobs[METRICS_ENQUEUED],
            .deduplicated = f->jobs[METRICS_DEDUPLICATED],
            .started = f->jobs[METRICS_STARTED],
            .succeeded = f->jobs[METRICS_SUCCEEDED],
            .failed = f->jobs[METRICS_FAILED],
            .dead = f->jobs[METRICS_DEAD],
            .timed_out = f->jobs[METRICS_TIMED_OUT],
            .reclaimed = f->jobs[METRICS_RECLAIMED],
            .duration_count = f->duration_count,
            .duration_sum_us = f->duration_sum_us,
        };
    }
    return n;
}

/* Whether m encodes within the frame limit max. */
static bool stats_fits(const struct rs_msg *m, uint32_t max)
{
    struct rs_buf b;
    rs_buf_init(&b, (size_t)max + RS_FRAME_HEADER);
    bool ok = rs_msg_encode(&b, m) == RS_OK;
    rs_buf_free(&b);
    return ok;
}

/* Fill and send STATISTICS for request id on c. Returns conn_send's result. */
static int stats_reply(struct conn *c, uint32_t id, struct server *s, const struct gauges *g)
{
    static struct rs_statistics_fn fns[METRICS_MAX_FUNCTIONS + 1];
    static struct rs_statistics_queue queues[GAUGES_MAX_FUNCTIONS];
    static struct rs_statistics_node nodes[GAUGES_MAX_NODES];
    const struct metrics *mt = metrics_get();
    struct engine *e = s->engine;
    int64_t now = engine_now_ms();
    char why[160];

    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_STATISTICS;
    m.request_id = id;
    struct rs_statistics *st = &m.u.stats;
    st->server = stats_str(s->server_name);
    st->node = stats_str(s->node_id);
    st->pid = (uint64_t)getpid();
    st->started_at = mt->started_ms;
    st->uptime_ms = now > mt->started_ms ? (uint64_t)(now - mt->started_ms) : 0;
    st->connections = s->nconns;
    for (struct conn *k = TAILQ_FIRST(&s->conns); k != NULL; k = TAILQ_NEXT(k, link))
        st->workers += k->worker != NULL;
    st->running = e != NULL && e->scheduler != NULL ? scheduler_running(e->scheduler) : 0;
    st->storage = stats_str(s->storage.display);
    st->schema = stats_str(s->cfg->schema);
    st->storage_up = metrics_health(s, why, sizeof(why));
    st->functions = fns;
    st->nfunctions = stats_functions(fns);
    st->queues = queues;
    st->nodes = nodes;
    if (g != NULL) {
        if (g->at_ms != 0) {
            st->has |= RS_HAS_COUNTED_AT;
            st->counted_at = g->at_ms;
        }
        if (g->err[0] != '\0')
            st->count_error = stats_str(g->err);
        for (size_t i = 0; i < g->ndepth && i < GAUGES_MAX_FUNCTIONS; i++)
            queues[st->nqueues++] = (struct rs_statistics_queue){
                stats_str(g->depth[i].name),
                (uint64_t)(g->depth[i].pending > 0 ? g->depth[i].pending : 0),
                (uint64_t)(g->depth[i].running > 0 ? g->depth[i].running : 0)};
        for (size_t i = 0; i < g->nnodes && i < GAUGES_MAX_NODES; i++) {
            const struct gauges_node *n = &g->nodes[i];
            nodes[st->nnodes++] = (struct rs_statistics_node){
                stats_str(n->id), stats_str(n->host), (uint64_t)(n->pid > 0 ? n->pid : 0),
                n->heartbeat_age_ms, n->started_at_ms};
        }
        if (g->depth_capped) {
            st->has |= RS_HAS_TRUNCATED;
            st->truncated = true;
        }
    } else {
        st->count_error = stats_str(e == NULL ? "the job engine is not running"
                                              : "the queue count is not set up");
    }
    /* Cut the lists from their ends until the reply fits the client's frame limit. */
    while (!stats_fits(&m, s->cfg->max_frame) &&
           (st->nfunctions > 0 || st->nqueues > 0 || st->nnodes > 0)) {
        st->nfunctions /= 2;
        st->nqueues /= 2;
        st->nnodes /= 2;
        st->has |= RS_HAS_TRUNCATED;
        st->truncated = true;
    }
    return conn_send(c, &m);
}

/* The queue count is in (or as fresh as it gets): answer if the connection is still there. */
static void stats_on_gauges(void *arg)
{
    struct stats_req *r = arg;
    struct conn *c = request_detach(&r->req);
    if (c != NULL && stats_reply(c, r->req.id, r->s, r->g) != 0)
        log_debug("conn %llu: dropped while sending STATISTICS", (unsigned long long)c->id);
    free(r);
}

int stats_request(struct conn *c, const struct rs_msg *msg)
{
    struct server *s = c->server;
    struct engine *e = s->engine;
    if (e == NULL || e->gauges == NULL)
        return stats_reply(c, msg->request_id, s, NULL);
    struct stats_req *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return conn_send_error(c, msg->request_id, RS_E_INTERNAL, true, "STATS: out of memory");
    r->s = s;
    r->g = e->gauges;
    request_attach(&r->req, c, msg->request_id);
    gauges_read(e->gauges, stats_on_gauges, r);
    return c->closed ? -1 : 0;
}
