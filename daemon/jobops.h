/*
 * The job requests answered by one read or one statement: GET, CANCEL, RETRY and LIST, and
 * the translation of a stored job into the protocol's JOB.
 */
#ifndef RESEOLIOD_JOBOPS_H
#define RESEOLIOD_JOBOPS_H

#include "jobstore.h"
#include "reseolio/msg.h"

struct conn;
struct engine;

/* Serve GET, CANCEL, RETRY or LIST of c. Returns 0, or -1 when c was closed. */
int jobops_handle(struct engine *e, struct conn *c, const struct rs_msg *msg)
    __attribute__((warn_unused_result));

/* Fill out (the protocol's JOB) from a stored job; pointers borrow from job. */
void jobops_to_msg(const struct jobstore_job *job, struct rs_job *out);

#endif
