/*
 * The command-line parser of the `reseolio` tool: long options (--name VALUE, --name=VALUE),
 * positionals, "--", and the options every command accepts (--json, --socket, --timeout,
 * --help). No global state, and errors that name the command.
 */
#ifndef RESEOLIO_CLI_FLAGS_H
#define RESEOLIO_CLI_FLAGS_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "reseolio.h"

#define FLAGS_MAX_POS 4

/* One option of a command; a spec is an array ended by {NULL}. */
struct flag {
    const char *name;   /* long name, without "--" */
    const char **value; /* takes a value, stored here; NULL: a switch */
    bool *seen;         /* set to true when given (may be NULL) */
};

/* One parse: what goes in, what comes out. */
struct flags {
    const char *cmd;         /* "jobs list", for messages; "" at the top level */
    const struct flag *spec; /* the command's own options; may be NULL */
    unsigned max_pos;        /* positionals the command takes */
    bool stop_at_pos;        /* the first positional ends the parse (the top level) */
    const char *pos[FLAGS_MAX_POS];
    unsigned npos;
    int rest;  /* with stop_at_pos: index of that positional, else argc */
    bool help; /* --help or -h was given */
};

/*
 * Parse argv[0..argc) into f (its first four fields set by the caller). The common options
 * change cli: --json, --socket PATH, --timeout MS (unless the spec has its own --timeout).
 * Returns CLI_EXIT_OK, or CLI_EXIT_USAGE after reporting the error.
 */
int flags_parse(struct flags *f, struct cli *cli, int argc, char **argv) CLI_MUST_CHECK;

/* Read text as an integer in [min, max] for option name of command cmd; else report a usage
 * error. Returns CLI_EXIT_OK or CLI_EXIT_USAGE. */
int flags_int(const char *cmd, const char *name, const char *text, int64_t min, int64_t max,
              int64_t *out) CLI_MUST_CHECK;

/* Read a job id (a positive integer). Returns CLI_EXIT_OK or CLI_EXIT_USAGE. */
int flags_job_id(const char *cmd, const char *text, uint64_t *out) CLI_MUST_CHECK;

/* The job options `jobs enqueue` and `schedules create` share, as given; NULL when absent. */
struct flags_job {
    const char *max_attempts, *backoff, *priority, *timeout;
};

/* Check the options of fl (ranges of docs/protocol.md, ENQUEUE) into o. Returns CLI_EXIT_OK or
 * CLI_EXIT_USAGE after reporting which option of cmd is wrong. */
int flags_job_opts(const char *cmd, const struct flags_job *fl,
                   struct rs_enqueue_opts *o) CLI_MUST_CHECK;

#endif
