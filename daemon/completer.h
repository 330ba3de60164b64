/*
 * ACK batching: the ACKs that arrive in one loop turn become one jobstore_complete (one
 * UPDATE over arrays, fenced by attempt and lease); each is answered OK after the commit, or
 * ERROR stale_attempt when the fence rejected it. Waiters of finished jobs get COMPLETED.
 */
#ifndef RESEOLIOD_COMPLETER_H
#define RESEOLIOD_COMPLETER_H

#include <stdbool.h>

#include "reseolio/msg.h"

struct conn;
struct engine;
struct completer;

/* Outcomes in one batch at most. */
#define COMPLETER_MAX_BATCH 500
/* Batches sent and not yet committed at most. */
#define COMPLETER_MAX_INFLIGHT 2

/* Owner: the engine. NULL when memory ran out. */
struct completer *completer_new(struct engine *e) __attribute__((warn_unused_result));
void completer_free(struct completer *k);

/* Add one ACK of c to the batch; fn is the attempt's function row in the metrics (its outcome
 * is counted there once committed). Returns 0, or -1 when c was closed. */
int completer_add(struct completer *k, struct conn *c, const struct rs_msg *msg, uint32_t fn)
    __attribute__((warn_unused_result));

/* True when no outcome waits to be sent or committed (the graceful stop releases this node's
 * running jobs only then, or a release could overtake the ACK that just finished one). */
bool completer_idle(const struct completer *k);

#endif
