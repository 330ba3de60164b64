/*
 * The daemon's counters: one process-wide table, a fixed-size hash of function names, no
 * allocation per event.
 */
#include "metrics.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

/* Open-addressing hash of function names (a power of two, above twice the cap). */
#define METRICS_HASH 2048u

const uint32_t metrics_bucket_ms[METRICS_BUCKETS] = {
    1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
};

static struct metrics metrics_table;
static uint16_t metrics_hash[METRICS_HASH]; /* row + 1; 0 is empty */

int metrics_init(void)
{
    memset(&metrics_table, 0, sizeof(metrics_table));
    memset(metrics_hash, 0, sizeof(metrics_hash));
    struct timeval tv;
    gettimeofday(&tv, NULL);
    metrics_table.started_ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    struct metrics_fn *other = calloc(1, sizeof(*other));
    if (other == NULL)
        return -1;
    memcpy(other->name, METRICS_OTHER_NAME, sizeof(METRICS_OTHER_NAME));
    metrics_table.fns[METRICS_MAX_FUNCTIONS] = other;
    return 0;
}

void metrics_free(void)
{
    for (size_t i = 0; i <= METRICS_MAX_FUNCTIONS; i++) {
        free(metrics_table.fns[i]);
        metrics_table.fns[i] = NULL;
    }
    metrics_table.nfns = 0;
    memset(metrics_hash, 0, sizeof(metrics_hash));
}

const struct metrics *metrics_get(void)
{
    return &metrics_table;
}

/* FNV-1a. */
static uint32_t metrics_hash_of(const char *name, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)name[i]) * 16777619u;
    return h;
}

uint32_t metrics_fn_id(const char *name, size_t len)
{
    if (len > RS_MAX_NAME || metrics_table.fns[METRICS_MAX_FUNCTIONS] == NULL)
        return METRICS_MAX_FUNCTIONS;
    uint32_t i = metrics_hash_of(name, len) & (METRICS_HASH - 1);
    for (;; i = (i + 1) & (METRICS_HASH - 1)) {
        uint16_t slot = metrics_hash[i];
        if (slot == 0)
            break;
        const struct metrics_fn *f = metrics_table.fns[slot - 1];
        if (strncmp(f->name, name, len) == 0 && f->name[len] == '\0')
            return slot - 1u;
    }
    if (metrics_table.nfns >= METRICS_MAX_FUNCTIONS)
        return METRICS_MAX_FUNCTIONS;
    struct metrics_fn *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return METRICS_MAX_FUNCTIONS;
    memcpy(f->name, name, len);
    uint32_t id = metrics_table.nfns++;
    metrics_table.fns[id] = f;
    metrics_hash[i] = (uint16_t)(id + 1);
    return id;
}

void metrics_job(uint32_t fn, enum metrics_job_event ev)
{
    if (fn <= METRICS_MAX_FUNCTIONS && metrics_table.fns[fn] != NULL)
        metrics_table.fns[fn]->jobs[ev]++;
}

void metrics_job_moved(const char *name, size_t len, enum metrics_job_event ev, bool dead)
{
    if (name == NULL)
        return;
    uint32_t fn = metrics_fn_id(name, len);
    metrics_job(fn, ev);
    if (dead)
        metrics_job(fn, METRICS_DEAD);
}

void metrics_attempt(uint32_t fn, uint64_t us)
{
    if (fn > METRICS_MAX_FUNCTIONS || metrics_table.fns[fn] == NULL)
        return;
    struct metrics_fn *f = metrics_table.fns[fn];
    size_t b = 0;
    while (b < METRICS_BUCKETS && us > (uint64_t)metrics_bucket_ms[b] * 1000)
        b++;
    f->buckets[b]++;
    f->duration_count++;
    f->duration_sum_us += us;
}

void metrics_conn_accepted(void)
{
    metrics_table.conns_total++;
}

void metrics_conn_rejected(void)
{
    metrics_table.conns_rejected++;
}

void metrics_frame_in(void)
{
    metrics_table.frames_in++;
}

void metrics_frame_out(void)
{
    metrics_table.frames_out++;
}

void metrics_error_sent(enum rs_code code)
{
    if ((int)code >= 0 && code < RS_CODE_COUNT)
        metrics_table.errors[code]++;
}

uint64_t metrics_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
