/*
 * `reseolio jobs list`: jobs newest first, filtered by status and function, paged through
 * LIST with its cursor; a table, or one JSON document streamed page by page.
 */
#ifndef RESEOLIO_CLI_JOBS_LIST_H
#define RESEOLIO_CLI_JOBS_LIST_H

#include "cli.h"

/* Run `jobs list` with the arguments after it. Returns the exit status. */
int jobs_list_run(struct cli *cli, int argc, char **argv) CLI_MUST_CHECK;

#endif
