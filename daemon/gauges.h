/*
 * Gauges read from PostgreSQL on demand, for the metrics endpoint and STATS: the queue depth
 * (pending and running jobs by function, one grouped count) and the daemons on the database
 * (the nodes table). Both statements run asynchronously, together, at most one refresh at a
 * time; a result younger than GAUGES_FRESH_MS is served from the cache without a query, and a
 * refresh that does not come back within GAUGES_WAIT_MS answers with the cached values.
 */
#ifndef RESEOLIOD_GAUGES_H
#define RESEOLIOD_GAUGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reseolio/proto.h"

struct engine;

#define GAUGES_FRESH_MS 1000
#define GAUGES_WAIT_MS  2000
/* Rows kept at most: functions with queued jobs, and nodes. */
#define GAUGES_MAX_FUNCTIONS 1000
#define GAUGES_MAX_NODES     1000
/* Callers waiting for one refresh at most; more are answered from the cache at once. */
#define GAUGES_MAX_WAITING 64

struct gauges_depth {
    char name[RS_MAX_NAME + 1];
    int64_t pending;
    int64_t running;
};

struct gauges_node {
    char id[33]; /* 32 hex digits, as WELCOME's node */
    char host[256];
    int64_t pid;
    int64_t heartbeat_age_ms;
    int64_t started_at_ms;
};

/* The cache. Owner: the engine. */
struct gauges {
    struct engine *e; /* not owned */
    struct gauges_depth *depth;
    size_t ndepth;
    struct gauges_node *nodes;
    size_t nnodes;
    int64_t at_ms;     /* Unix ms of the last successful refresh; 0: never */
    bool depth_capped; /* more functions had queued jobs than GAUGES_MAX_FUNCTIONS */
    char err[160];     /* why the last refresh failed; empty after a success */
    /* the refresh in flight */
    bool inflight;
    int outstanding; /* statements of it not yet answered */
    struct gauges_depth *new_depth;
    size_t new_ndepth;
    struct gauges_node *new_nodes;
    size_t new_nnodes;
    bool new_failed;
    struct event *ev_wait;
    struct {
        void (*fn)(void *arg);
        void *arg;
    } waiting[GAUGES_MAX_WAITING];
    size_t nwaiting;
};

struct gauges *gauges_new(struct engine *e) __attribute__((warn_unused_result));
/* Answers every waiting caller from the cache first. */
void gauges_free(struct gauges *g);

/* Call fn(arg) once when the cache is fresh: soon (from a zero timer) when it is, after a
 * refresh, or after GAUGES_WAIT_MS with what it has. Only when GAUGES_MAX_WAITING callers wait
 * already is fn called at once, from inside this call, with the cache as it is. fn reads g. */
void gauges_read(struct gauges *g, void (*fn)(void *arg), void *arg);

#endif
