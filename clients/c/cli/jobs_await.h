/*
 * `reseolio jobs await ID`: wait until a job is final and print how it ended; a job that did
 * not succeed is a failure (exit status 1), so scripts can chain on it.
 */
#ifndef RESEOLIO_CLI_JOBS_AWAIT_H
#define RESEOLIO_CLI_JOBS_AWAIT_H

#include "cli.h"

/* Run `jobs await` with the arguments after it. Returns the exit status. */
int jobs_await_run(struct cli *cli, int argc, char **argv) CLI_MUST_CHECK;

#endif
