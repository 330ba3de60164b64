/*
 * `reseolio status`: the daemon (from WELCOME) and its jobs counted by function and status.
 * The counts are made here from LIST pages and capped per status: the protocol has no
 * statistics message yet (a STATS message is a later addition; then this uses it).
 */
#ifndef RESEOLIO_CLI_STATUS_H
#define RESEOLIO_CLI_STATUS_H

#include "cli.h"

/* Run `status` with the arguments after it. Returns the exit status. */
int status_run(struct cli *cli, int argc, char **argv) CLI_MUST_CHECK;

#endif
