/*
 * `reseolio schedules ...`: list, show, create, pause, resume, delete the daemon's cron
 * schedules (docs/operations.md, "Schedules").
 */
#ifndef RESEOLIO_CLI_SCHEDULES_H
#define RESEOLIO_CLI_SCHEDULES_H

#include "cli.h"

/* Run `schedules` with the arguments after it. Returns the exit status. */
int schedules_run(struct cli *cli, int argc, char **argv) CLI_MUST_CHECK;

#endif
