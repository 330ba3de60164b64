/*
 * What every command of the `reseolio` tool shares: the global settings, the exit codes, one
 * way to report an error (one line on stderr) and to print JSON, and the connection.
 */
#ifndef RESEOLIO_CLI_H
#define RESEOLIO_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include <reseolio.h>

/* Exit statuses, as docs/operations.md lists them for shell users. */
enum cli_exit {
    CLI_EXIT_OK = 0,          /* done */
    CLI_EXIT_FAILED = 1,      /* the operation failed: not found, conflict, a dead job, ... */
    CLI_EXIT_USAGE = 2,       /* the command line is wrong */
    CLI_EXIT_UNAVAILABLE = 3, /* the daemon cannot be reached, or cannot serve now */
};

/* The global settings and the connection. Owner: main; client is closed by cli_close. */
struct cli {
    const char *socket; /* --socket; NULL: the default rule of libreseolio */
    bool json;          /* --json: one JSON document on stdout instead of tables */
    int timeout_ms;     /* --timeout: bound on connecting and on each call */
    struct rs_client *client;
};

#define CLI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define CLI_MUST_CHECK   __attribute__((warn_unused_result))

/* Print "reseolio: MESSAGE" on stderr as one line (control characters become spaces). */
void cli_error(const char *fmt, ...) CLI_PRINTF(1, 2);

/* Report a usage error of command cmd ("jobs list") and return CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) CLI_PRINTF(2, 3) CLI_MUST_CHECK;

/* Connect to the daemon unless connected. Returns CLI_EXIT_OK or the exit status to end with
 * (the error is reported). */
int cli_connect(struct cli *cli) CLI_MUST_CHECK;

/* Report a failed call of the client (what: "cannot cancel job 7") and return its exit
 * status: CLI_EXIT_UNAVAILABLE when the daemon is gone or cannot serve, else
 * CLI_EXIT_FAILED. */
int cli_call_failed(struct cli *cli, enum rs_client_status st, const char *what) CLI_MUST_CHECK;

/* Close the connection, if any. */
void cli_close(struct cli *cli);

/* The JSON_REAL_PRECISION flag that prints every real in doc exactly and no longer. */
size_t cli_json_precision(json_t *doc);

/* Print doc as one indented JSON document and a newline on stdout, then release it.
 * Returns CLI_EXIT_OK, or CLI_EXIT_FAILED when doc is NULL (out of memory) or writing failed. */
int cli_print_json(json_t *doc) CLI_MUST_CHECK;

/* Format a Unix time in ms as UTC ISO 8601 with ms ("2026-11-27T20:29:04.481Z"). */
void cli_format_time(int64_t ms, char *buf, size_t size);

#endif
