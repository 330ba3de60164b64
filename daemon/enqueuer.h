/*
 * ENQUEUE batching: the ENQUEUEs that arrive in one loop turn become one jobstore_enqueue
 * (one transaction, one NOTIFY); each is answered ENQUEUED after the commit. A lone request
 * goes out in the same turn, so batching adds no latency.
 */
#ifndef RESEOLIOD_ENQUEUER_H
#define RESEOLIOD_ENQUEUER_H

#include "reseolio/msg.h"

struct conn;
struct engine;
struct enqueuer;

/* Jobs in one batch at most; a full batch goes out at once. */
#define ENQUEUER_MAX_BATCH 500
/* Batches sent and not yet committed at most; more requests wait and join the next one. */
#define ENQUEUER_MAX_INFLIGHT 2

/* Owner: the engine. NULL when memory ran out. */
struct enqueuer *enqueuer_new(struct engine *e) __attribute__((warn_unused_result));
void enqueuer_free(struct enqueuer *q);

/* Validate one ENQUEUE of c and add it to the batch, or answer it with an ERROR at once.
 * Returns 0, or -1 when c was closed. */
int enqueuer_add(struct enqueuer *q, struct conn *c, const struct rs_msg *msg)
    __attribute__((warn_unused_result));

#endif
