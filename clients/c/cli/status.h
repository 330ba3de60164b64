/*
 * `reseolio status`: the daemon, its database, the daemons on it, the queues by function and
 * status, and the daemon's counters by function, all from one STATS request.
 */
#ifndef RESEOLIO_CLI_STATUS_H
#define RESEOLIO_CLI_STATUS_H

#include "cli.h"

/* Run `status` with the arguments after it. Returns the exit status. */
int status_run(struct cli *cli, int argc, char **argv) CLI_MUST_CHECK;

#endif
