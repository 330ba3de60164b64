/*
 * storetest: fixtures for the store tests: a fresh migrated database per test, an event loop,
 * and blocking wrappers that run one jobstore operation by driving the loop until its
 * callback fired (never by sleeping).
 */
#ifndef RESEOLIO_STORETEST_H
#define RESEOLIO_STORETEST_H

#include "jobstore.h"
#include "pgconn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

/* One test's world. conninfo belongs to it (freed by storetest_end). */
struct storetest {
    struct event_base *base;
    char *conninfo;
    struct pgconn *conn; /* ready, with every job statement prepared, schema "reseolio" */
    bool ready;
    int readies;
};

/* Create a database (named after prefix), migrate it, open st->conn and wait until ready. */
void storetest_begin(struct storetest *st, const char *prefix);
void storetest_end(struct storetest *st);

/* Open one more job connection on st's loop and wait until it is ready. */
struct pgconn *storetest_connect(struct storetest *st);

/* Run the loop until *flag is true (each turn blocks until some event fires). */
void storetest_wait(struct storetest *st, const bool *flag);

/* A node id for tests: 16 bytes, all equal to b. */
void storetest_node(uint8_t node[16], uint8_t b);

/* Copies of results, owned by the caller's arrays. */
struct st_claimed {
    int64_t id;
    char name[64];
    int32_t attempt;
    int64_t deadline_ms;
    int16_t priority;
    int64_t run_at_us;
};

/* Blocking operations; each fails the test on a transport error. */
void st_enqueue(struct storetest *st, struct pgconn *c, const struct jobstore_new *jobs, size_t n,
                struct jobstore_enqueued *out);
/* Enqueue one job with defaults (key may be NULL) and return its id. */
int64_t st_enqueue1(struct storetest *st, const char *name, const char *key);
size_t st_claim(struct storetest *st, struct pgconn *c, const uint8_t node[16],
                const char *const *names, const int32_t *limits, size_t nnames, int32_t total,
                struct st_claimed *out, size_t max);
/* st_claim starting each name at cursors[i] (jobstore_claim). */
size_t st_claim_from(struct storetest *st, struct pgconn *c, const uint8_t node[16],
                     const char *const *names, const int32_t *limits,
                     const struct jobstore_cursor *cursors, size_t nnames, int32_t total,
                     struct st_claimed *out, size_t max);
/* Complete outcomes; returns how many applied and copies the rows into out (may be NULL). */
size_t st_complete(struct storetest *st, const uint8_t node[16],
                   const struct jobstore_outcome *outcomes, size_t n, struct jobstore_moved *out);
/* The status of job id, read with a separate blocking connection. */
const char *st_status(struct storetest *st, int64_t id);
/* A single integer from SQL run on the test's database (schema reseolio on the path). */
long long st_int(struct storetest *st, const char *sql);
/* Run SQL on the test's database; fails the test on error. */
void st_exec(struct storetest *st, const char *sql);
/* Milliseconds since the epoch, the machine's clock (the server shares it). */
int64_t st_now_ms(void);

#endif
