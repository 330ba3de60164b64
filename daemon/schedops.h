/*
 * The schedule requests: SCHEDULE_PUT, SCHEDULE_GET, SCHEDULE_LIST, SCHEDULE_PAUSE,
 * SCHEDULE_RESUME, SCHEDULE_DELETE (docs/protocol.md). Cron expressions and zones are checked
 * here (the decoder cannot know the zone database): ERROR bad_value with the reason.
 */
#ifndef RESEOLIOD_SCHEDOPS_H
#define RESEOLIOD_SCHEDOPS_H

#include "reseolio/msg.h"

struct conn;
struct engine;

/* Serve one schedule request of c. Returns 0, or -1 when c was closed meanwhile. */
int schedops_handle(struct engine *e, struct conn *c, const struct rs_msg *msg)
    __attribute__((warn_unused_result));

#endif
