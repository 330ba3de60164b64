/*
 * `reseolio jobs enqueue NAME --args JSON`: make a job of a call, its arguments given as a
 * JSON array and sent as one MessagePack array (the convention of docs/protocol.md §5).
 */
#ifndef RESEOLIO_CLI_JOBS_ENQUEUE_H
#define RESEOLIO_CLI_JOBS_ENQUEUE_H

#include "cli.h"

/* Run `jobs enqueue` with the arguments after it. Returns the exit status. */
int jobs_enqueue_run(struct cli *cli, int argc, char **argv) CLI_MUST_CHECK;

#endif
