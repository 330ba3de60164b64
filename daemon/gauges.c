/*
 * Gauges read from PostgreSQL on demand: queue depth by function and the nodes table, cached
 * briefly, refreshed asynchronously.
 */
#include "gauges.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "log.h"
#include "pgconn.h"
#include "stmts.h"

/* Answer every waiting caller (they read the cache now). */
static void gauges_answer(struct gauges *g)
{
    size_t n = g->nwaiting;
    g->nwaiting = 0;
    event_del(g->ev_wait);
    for (size_t i = 0; i < n; i++)
        g->waiting[i].fn(g->waiting[i].arg);
}

/* ev_wait: a zero timer for a fresh cache, or the bound on a refresh. */
static void gauges_on_wait(evutil_socket_t fd, short what, void *arg)
{
    gauges_answer(arg);
}

/* Both statements of a refresh came back: swap the new rows in, answer. */
static void gauges_finish(struct gauges *g)
{
    if (--g->outstanding > 0)
        return;
    g->inflight = false;
    if (!g->new_failed) {
        free(g->depth);
        free(g->nodes);
        g->depth = g->new_depth;
        g->ndepth = g->new_ndepth;
        g->nodes = g->new_nodes;
        g->nnodes = g->new_nnodes;
        g->at_ms = engine_now_ms();
        g->err[0] = '\0';
    } else {
        free(g->new_depth);
        free(g->new_nodes);
    }
    g->new_depth = NULL;
    g->new_nodes = NULL;
    gauges_answer(g);
}

/* Copy a text column into dst (size bytes, NUL-terminated, cut if longer). */
static void gauges_text(char *dst, size_t size, const PGresult *res, int row, int col)
{
    snprintf(dst, size, "%s", PQgetvalue(res, row, col));
}

static void gauges_on_depth(void *arg, PGresult *res, const char *err)
{
    struct gauges *g = arg;
    if (err != NULL) {
        g->new_failed = true;
        snprintf(g->err, sizeof(g->err), "queue depth: %s", err);
    } else {
        int n = PQntuples(res);
        g->new_depth = n > 0 ? calloc((size_t)n, sizeof(*g->new_depth)) : NULL;
        if (n > 0 && g->new_depth == NULL) {
            g->new_failed = true;
            snprintf(g->err, sizeof(g->err), "queue depth: out of memory");
        }
        for (int i = 0; g->new_depth != NULL && i < n; i++) {
            struct gauges_depth *d = &g->new_depth[i];
            gauges_text(d->name, sizeof(d->name), res, i, 0);
            d->pending = strtoll(PQgetvalue(res, i, 1), NULL, 10);
            d->running = strtoll(PQgetvalue(res, i, 2), NULL, 10);
        }
        g->new_ndepth = g->new_depth != NULL ? (size_t)n : 0;
        g->depth_capped = n > GAUGES_MAX_FUNCTIONS;
        if (g->depth_capped)
            g->new_ndepth = GAUGES_MAX_FUNCTIONS;
    }
    gauges_finish(g);
}

static void gauges_on_nodes(void *arg, PGresult *res, const char *err)
{
    struct gauges *g = arg;
    if (err != NULL) {
        g->new_failed = true;
        snprintf(g->err, sizeof(g->err), "nodes: %s", err);
    } else {
        int n = PQntuples(res);
        g->new_nodes = n > 0 ? calloc((size_t)n, sizeof(*g->new_nodes)) : NULL;
        if (n > 0 && g->new_nodes == NULL) {
            g->new_failed = true;
            snprintf(g->err, sizeof(g->err), "nodes: out of memory");
        }
        for (int i = 0; g->new_nodes != NULL && i < n; i++) {
            struct gauges_node *d = &g->new_nodes[i];
            gauges_text(d->id, sizeof(d->id), res, i, 0);
            gauges_text(d->host, sizeof(d->host), res, i, 1);
            d->pid = strtoll(PQgetvalue(res, i, 2), NULL, 10);
            d->heartbeat_age_ms = strtoll(PQgetvalue(res, i, 3), NULL, 10);
            d->started_at_ms = strtoll(PQgetvalue(res, i, 4), NULL, 10);
        }
        g->new_nnodes = g->new_nodes != NULL ? (size_t)n : 0;
    }
    gauges_finish(g);
}

/* Send both statements as one batch. Returns 0, or -1 (g->err says why). */
static int gauges_refresh(struct gauges *g)
{
    if (g->e->db == NULL || !pgconn_ready(g->e->db)) {
        snprintf(g->err, sizeof(g->err), "the storage is not reachable");
        return -1;
    }
    char limit_depth[16], limit_nodes[16];
    snprintf(limit_depth, sizeof(limit_depth), "%d", GAUGES_MAX_FUNCTIONS + 1);
    snprintf(limit_nodes, sizeof(limit_nodes), "%d", GAUGES_MAX_NODES);
    const char *vd[1] = {limit_depth}, *vn[1] = {limit_nodes};
    struct pgconn_stmt stmts[2] = {
        {.name = stmts_name(STMT_QUEUE_DEPTH),
         .nparams = 1,
         .values = vd,
         .cb = gauges_on_depth,
         .arg = g},
        {.name = stmts_name(STMT_NODE_LIST),
         .nparams = 1,
         .values = vn,
         .cb = gauges_on_nodes,
         .arg = g},
    };
    enum pgconn_status st = pgconn_submit(g->e->db, stmts, 2);
    if (st != PGCONN_OK) {
        snprintf(g->err, sizeof(g->err), "cannot send the count to PostgreSQL (status %d)",
                 (int)st);
        return -1;
    }
    g->inflight = true;
    g->outstanding = 2;
    g->new_failed = false;
    return 0;
}

void gauges_read(struct gauges *g, void (*fn)(void *arg), void *arg)
{
    if (g->nwaiting == GAUGES_MAX_WAITING) {
        fn(arg); /* callers accept a synchronous answer only here: the cache as it is */
        return;
    }
    g->waiting[g->nwaiting].fn = fn;
    g->waiting[g->nwaiting].arg = arg;
    g->nwaiting++;
    if (g->inflight)
        return;
    bool fresh = g->at_ms != 0 && engine_now_ms() - g->at_ms < GAUGES_FRESH_MS;
    struct timeval tv = {0, 0};
    if (!fresh && gauges_refresh(g) == 0)
        tv = (struct timeval){GAUGES_WAIT_MS / 1000, (GAUGES_WAIT_MS % 1000) * 1000};
    event_add(g->ev_wait, &tv);
}

struct gauges *gauges_new(struct engine *e)
{
    struct gauges *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    g->e = e;
    g->ev_wait = evtimer_new(e->base, gauges_on_wait, g);
    if (g->ev_wait == NULL) {
        free(g);
        return NULL;
    }
    return g;
}

void gauges_free(struct gauges *g)
{
    if (g == NULL)
        return;
    gauges_answer(g);
    event_free(g->ev_wait);
    free(g->depth);
    free(g->nodes);
    free(g->new_depth);
    free(g->new_nodes);
    free(g);
}
