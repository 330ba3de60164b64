/*
 * What every command of the `reseolio` tool shares: error lines, exit statuses for client
 * failures, the connection, JSON output and times.
 */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Write "reseolio: " and the formatted message as one line: a message the daemon sent may
 * hold newlines, and scripts read our stderr line by line. */
CLI_PRINTF(1, 0) static void cli_verror(const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    for (char *p = msg; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    fprintf(stderr, "reseolio: %s\n", msg);
}

/* One error line on stderr. */
void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_verror(fmt, ap);
    va_end(ap);
}

/* A usage error names the command and where its help is. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (cmd != NULL && cmd[0] != '\0')
        cli_error("%s: %s (see 'reseolio %s --help')", cmd, msg, cmd);
    else
        cli_error("%s (see 'reseolio --help')", msg);
    return CLI_EXIT_USAGE;
}

/* Connect once; every command that talks to the daemon starts here. */
int cli_connect(struct cli *cli)
{
    if (cli->client != NULL)
        return CLI_EXIT_OK;
    struct rs_client_opts opts;
    rs_client_opts_init(&opts);
    opts.name = "reseolio/" RESEOLIO_CLI_VERSION;
    opts.timeout_ms = cli->timeout_ms;
    char *err = NULL;
    enum rs_client_status st = rs_client_connect(cli->socket, &opts, &cli->client, &err);
    if (st == RS_CLIENT_OK)
        return CLI_EXIT_OK;
    cli_error("cannot reach the daemon: %s", err != NULL ? err : rs_client_status_name(st));
    free(err);
    /* A bad argument here is a socket path that does not fit: the user's to fix. */
    return st == RS_CLIENT_E_ARG ? CLI_EXIT_USAGE : CLI_EXIT_UNAVAILABLE;
}

/* True for daemon error codes that say "not now" rather than "not this". */
static bool cli_code_unavailable(const char *code)
{
    return code != NULL && (strcmp(code, "unavailable") == 0 ||
                            strcmp(code, "shutting_down") == 0 || strcmp(code, "limit") == 0);
}

/* Map a failed call to an exit status and say what happened. */
int cli_call_failed(struct cli *cli, enum rs_client_status st, const char *what)
{
    const char *msg = rs_client_errmsg(cli->client);
    const char *code = rs_client_error_code(cli->client);
    if (msg == NULL || msg[0] == '\0')
        msg = rs_client_status_name(st);
    switch (st) {
    case RS_CLIENT_E_CONNECT:
    case RS_CLIENT_E_IO:
    case RS_CLIENT_E_PROTOCOL:
    case RS_CLIENT_E_CLOSED:
        cli_error("%s: the daemon went away: %s", what, msg);
        return CLI_EXIT_UNAVAILABLE;
    case RS_CLIENT_E_TIMEOUT:
        /* AWAIT's own timeout is an answer; no answer at all means the daemon is stuck. */
        if (code != NULL && strcmp(code, "timeout") == 0) {
            cli_error("%s: %s", what, msg);
            return CLI_EXIT_FAILED;
        }
        cli_error("%s: the daemon did not answer in %d ms (--timeout)", what, cli->timeout_ms);
        return CLI_EXIT_UNAVAILABLE;
    case RS_CLIENT_E_SERVER:
        cli_error("%s: %s", what, msg);
        return cli_code_unavailable(code) ? CLI_EXIT_UNAVAILABLE : CLI_EXIT_FAILED;
    case RS_CLIENT_E_ARG:
        cli_error("%s: %s", what, msg);
        return CLI_EXIT_USAGE;
    default:
        cli_error("%s: %s", what, msg);
        return CLI_EXIT_FAILED;
    }
}

/* Close the connection. */
void cli_close(struct cli *cli)
{
    rs_client_close(cli->client);
    cli->client = NULL;
}

/* The fewest significant digits (1..17) with which v reads back as itself. */
static int cli_real_digits(double v)
{
    char buf[40];
    for (int p = 1; p < 17; p++) {
        snprintf(buf, sizeof(buf), "%.*g", p, v);
        if (strtod(buf, NULL) == v)
            return p;
    }
    return 17;
}

/* The most digits any real in j needs to read back exactly. jansson has one precision per
 * document; its default (17) prints 0.1 as 0.10000000000000001. */
static int cli_json_digits(json_t *j)
{
    int most = 1;
    if (json_is_real(j)) {
        most = cli_real_digits(json_real_value(j));
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            int d = cli_json_digits(v);
            most = d > most ? d : most;
        }
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
        {
            int d = cli_json_digits(v);
            most = d > most ? d : most;
        }
    }
    return most;
}

/* jansson has one precision per dump. */
size_t cli_json_precision(json_t *doc)
{
    return JSON_REAL_PRECISION(cli_json_digits(doc));
}

/* One document, indented, on stdout. */
int cli_print_json(json_t *doc)
{
    if (doc == NULL) {
        cli_error("out of memory building the output");
        return CLI_EXIT_FAILED;
    }
    size_t flags = JSON_INDENT(2) | cli_json_precision(doc);
    int rc = json_dumpf(doc, stdout, flags);
    json_decref(doc);
    if (rc != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
        cli_error("cannot write the output");
        return CLI_EXIT_FAILED;
    }
    return CLI_EXIT_OK;
}

/* UTC, to the millisecond: what the daemon's log uses too. */
void cli_format_time(int64_t ms, char *buf, size_t size)
{
    time_t secs = (time_t)(ms / 1000);
    int frac = (int)(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        secs--;
    }
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL) {
        snprintf(buf, size, "%lld", (long long)ms);
        return;
    }
    char day[32];
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%03dZ", day, frac);
}
