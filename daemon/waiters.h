/*
 * AWAIT: the clients waiting for jobs to become final, by job id. A final job is answered at
 * once; otherwise the waiter stays until the job ends here (ACK) or anywhere (the completion
 * NOTIFY, then a GET), its timeout passes, or its connection closes. Bounded per connection
 * and in all.
 */
#ifndef RESEOLIOD_WAITERS_H
#define RESEOLIOD_WAITERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobstore.h"
#include "reseolio/msg.h"

struct conn;
struct engine;
struct waiters;

/* Waiters per connection and in all, at most (more: ERROR limit). */
#define WAITERS_MAX_PER_CONN 10000u
#define WAITERS_MAX          100000u

/* A job that became final, as COMPLETED reports it. Pointers are borrowed for the call. */
struct waiters_final {
    int64_t id;
    enum jobstore_status status; /* success, dead or cancelled */
    int32_t attempt;
    bool has_result;
    const void *result;
    size_t result_len;
    const char *error; /* NULL: none */
    size_t error_len;
};

/* Owner: the engine. NULL when memory ran out. */
struct waiters *waiters_new(struct engine *e) __attribute__((warn_unused_result));
void waiters_free(struct waiters *w);

/* Serve AWAIT of c. Returns 0, or -1 when c was closed. */
int waiters_await(struct waiters *w, struct conn *c, const struct rs_msg *msg)
    __attribute__((warn_unused_result));

/* Job f->id is final: answer its waiters with COMPLETED. */
void waiters_job_final(struct waiters *w, const struct waiters_final *f);

/* These jobs became final somewhere (completion NOTIFY): look up those that are awaited. */
void waiters_jobs_done(struct waiters *w, const int64_t *ids, size_t n);

/* Notifications may have been lost (LISTEN reconnected): look up every awaited job. */
void waiters_recheck(struct waiters *w);

/* c closes: drop its waiters. */
void waiters_conn_closed(struct waiters *w, struct conn *c);

/* The daemon stops: answer every waiter with ERROR shutting_down. */
void waiters_shutdown(struct waiters *w);

/* Waiters registered now. */
size_t waiters_count(const struct waiters *w);

#endif
