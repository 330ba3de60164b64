/*
 * rs_stats: STATS, blocking, and the copy of STATISTICS into an owned struct rs_stats.
 */
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

/* A NUL-terminated copy of a wire string; NULL when absent or out of memory (*bad set). */
static char *stats_str(struct rs_str s, bool *bad)
{
    if (s.ptr == NULL)
        return NULL;
    char *p = malloc((size_t)s.len + 1);
    if (p == NULL) {
        *bad = true;
        return NULL;
    }
    if (s.len > 0)
        memcpy(p, s.ptr, s.len);
    p[s.len] = '\0';
    return p;
}

void rs_stats_free(struct rs_stats *s)
{
    if (s == NULL)
        return;
    free(s->server);
    free(s->node);
    free(s->storage);
    free(s->schema);
    free(s->count_error);
    for (size_t i = 0; i < s->nfunctions; i++)
        free(s->functions[i].name);
    for (size_t i = 0; i < s->nqueues; i++)
        free(s->queues[i].name);
    for (size_t i = 0; i < s->nnodes; i++) {
        free(s->nodes[i].id);
        free(s->nodes[i].host);
    }
    free(s->functions);
    free(s->queues);
    free(s->nodes);
    free(s);
}

/* Room for n entries of size bytes (at least one, so NULL means out of memory). */
static void *stats_array(size_t n, size_t size)
{
    return calloc(n > 0 ? n : 1, size);
}

int stats_reply(struct client_reply *r, const struct rs_statistics *m)
{
    struct rs_stats *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -1;
    r->stats = s; /* reply_clear frees a partial copy */
    bool bad = false;
    s->server = stats_str(m->server, &bad);
    s->node = stats_str(m->node, &bad);
    s->pid = m->pid;
    s->started_at = m->started_at;
    s->uptime_ms = m->uptime_ms;
    s->connections = m->connections;
    s->workers = m->workers;
    s->running = m->running;
    s->storage = stats_str(m->storage, &bad);
    s->schema = stats_str(m->schema, &bad);
    s->storage_up = m->storage_up;
    s->counted_at = (m->has & RS_HAS_COUNTED_AT) != 0 ? m->counted_at : 0;
    s->count_error = stats_str(m->count_error, &bad);
    s->truncated = (m->has & RS_HAS_TRUNCATED) != 0 && m->truncated;
    s->functions = stats_array(m->nfunctions, sizeof(*s->functions));
    s->queues = stats_array(m->nqueues, sizeof(*s->queues));
    s->nodes = stats_array(m->nnodes, sizeof(*s->nodes));
    if (bad || s->functions == NULL || s->queues == NULL || s->nodes == NULL)
        return -1;
    for (uint32_t i = 0; i < m->nfunctions && !bad; i++) {
        const struct rs_statistics_fn *f = &m->functions[i];
        s->functions[i] = (struct rs_stats_function){
            .name = stats_str(f->name, &bad),
            .enqueued = f->enqueued,
            .deduplicated = f->deduplicated,
            .started = f->started,
            .succeeded = f->succeeded,
            .failed = f->failed,
            .dead = f->dead,
            .timed_out = f->timed_out,
            .reclaimed = f->reclaimed,
            .duration_count = f->duration_count,
            .duration_sum_us = f->duration_sum_us,
        };
        s->nfunctions = i + 1;
    }
    for (uint32_t i = 0; i < m->nqueues && !bad; i++) {
        const struct rs_statistics_queue *q = &m->queues[i];
        s->queues[i] = (struct rs_stats_queue){stats_str(q->name, &bad), q->pending, q->running};
        s->nqueues = i + 1;
    }
    for (uint32_t i = 0; i < m->nnodes && !bad; i++) {
        const struct rs_statistics_node *n = &m->nodes[i];
        s->nodes[i] = (struct rs_stats_node){stats_str(n->id, &bad), stats_str(n->host, &bad),
                                             n->pid, n->heartbeat_age_ms, n->started_at};
        s->nnodes = i + 1;
    }
    return bad ? -1 : 0;
}

enum rs_client_status rs_stats(struct rs_client *c, struct rs_stats **out)
{
    if (c == NULL || out == NULL)
        return RS_CLIENT_E_ARG;
    *out = NULL;
    enum rs_client_status st = client_begin(c);
    if (st != RS_CLIENT_OK)
        return st;
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_STATS;
    struct client_reply r;
    st = client_call(c, &m, CALL_STATS, client_deadline(c), &r);
    st = client_finish(c, st);
    if (st != RS_CLIENT_OK) {
        reply_clear(&r);
        return st;
    }
    *out = r.stats;
    r.stats = NULL;
    return RS_CLIENT_OK;
}
