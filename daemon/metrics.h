/*
 * The daemon's counters: jobs by function and event, attempt durations (fixed-bucket
 * histograms), connections, frames, ERRORs sent by code. One process-wide table; nothing is
 * allocated per event (a function's row is allocated once, the first time its name is seen,
 * and at most METRICS_MAX_FUNCTIONS names are tracked: later names share the row "_other").
 * Read by the Prometheus endpoint (metrics_text.c) and the STATS request (stats.c).
 */
#ifndef RESEOLIOD_METRICS_H
#define RESEOLIOD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reseolio/proto.h"

/* Distinct function names with their own row; further names count under METRICS_OTHER_NAME. */
#define METRICS_MAX_FUNCTIONS 1000u
#define METRICS_OTHER_NAME    "_other"
/* Upper bounds (ms) of the attempt duration buckets; one more bucket holds the rest (+Inf). */
#define METRICS_BUCKETS 14u
extern const uint32_t metrics_bucket_ms[METRICS_BUCKETS];

/* What happened to a job (or one of its attempts), counted per function. */
enum metrics_job_event {
    METRICS_ENQUEUED = 0, /* a new job committed */
    METRICS_DEDUPLICATED, /* an ENQUEUE answered with an existing job (idempotency key) */
    METRICS_STARTED,      /* an attempt was dispatched */
    METRICS_SUCCEEDED,    /* an attempt's success was committed */
    METRICS_FAILED,       /* an attempt's failure was committed (retried or dead) */
    METRICS_DEAD,         /* a job became dead on an ACK */
    METRICS_TIMED_OUT,    /* an attempt's timeout was committed by this daemon (expiry) */
    METRICS_RECLAIMED,    /* an attempt of a lapsed node was taken back by this daemon */
    METRICS_JOB_EVENTS
};

/* One function's row. */
struct metrics_fn {
    char name[RS_MAX_NAME + 1];
    uint64_t jobs[METRICS_JOB_EVENTS];
    uint64_t buckets[METRICS_BUCKETS + 1]; /* not cumulative; the last is above every bound */
    uint64_t duration_count;
    uint64_t duration_sum_us;
};

struct metrics {
    int64_t started_ms; /* Unix ms of metrics_init */
    uint64_t conns_total;
    uint64_t conns_rejected;
    uint64_t frames_in;
    uint64_t frames_out;
    uint64_t errors[RS_CODE_COUNT];                    /* ERRORs sent, by code */
    struct metrics_fn *fns[METRICS_MAX_FUNCTIONS + 1]; /* the last is "_other", always set */
    uint32_t nfns;                                     /* rows used before "_other" */
};

/* Set up the table (at start). Returns 0, or -1 when memory ran out. */
int metrics_init(void) __attribute__((warn_unused_result));
void metrics_free(void);

/* The table, for readers. */
const struct metrics *metrics_get(void);

/* The row of a function (its index in fns); METRICS_MAX_FUNCTIONS ("_other") once the table
 * is full. Allocates only the first time a name is seen. */
uint32_t metrics_fn_id(const char *name, size_t len);

void metrics_job(uint32_t fn, enum metrics_job_event ev);
/* Count ev for the function name (len bytes; NULL counts nothing), and dead too when the job
 * became dead: the rows an expiry or a reclaim moved. */
void metrics_job_moved(const char *name, size_t len, enum metrics_job_event ev, bool dead);
/* One attempt of fn took us microseconds (dispatch to ACK). */
void metrics_attempt(uint32_t fn, uint64_t us);
void metrics_conn_accepted(void);
void metrics_conn_rejected(void);
void metrics_frame_in(void);
void metrics_frame_out(void);
void metrics_error_sent(enum rs_code code);

/* Monotonic clock in microseconds, for durations. */
uint64_t metrics_now_us(void);

#endif
