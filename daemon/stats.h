/*
 * The STATS request: the daemon, its database, the nodes, the queues and the counters in one
 * STATISTICS reply, for `reseolio status`. Served outside the job engine, so it answers while
 * PostgreSQL is down or still being set up.
 */
#ifndef RESEOLIOD_STATS_H
#define RESEOLIOD_STATS_H

#include "reseolio/msg.h"

struct conn;

/* Answer msg (STATS) on c: after the queue count (engine->gauges, at most GAUGES_WAIT_MS) when
 * there is an engine, else at once. Returns 0, or -1 when c was closed. */
int stats_request(struct conn *c, const struct rs_msg *msg) __attribute__((warn_unused_result));

#endif
