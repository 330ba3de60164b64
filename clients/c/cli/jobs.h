/*
 * `reseolio jobs ...`: picks the subcommand; show, cancel and retry (one job by id, one call)
 * live here, the others in jobs_list.c, jobs_enqueue.c and jobs_await.c.
 */
#ifndef RESEOLIO_CLI_JOBS_H
#define RESEOLIO_CLI_JOBS_H

#include "cli.h"

/* Run `jobs` with the arguments after it. Returns the exit status. */
int jobs_run(struct cli *cli, int argc, char **argv) CLI_MUST_CHECK;

#endif
