/*
 * The command-line parser of the `reseolio` tool. getopt_long keeps global state and prints
 * its own messages; this is small enough to own, and its errors name the command.
 */
#include "flags.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The longest --timeout: a day, like the longest attempt timeout. */
#define FLAGS_TIMEOUT_MAX 86400000

/* Find the option called name[0..len) in spec. */
static const struct flag *flags_find(const struct flag *spec, const char *name, size_t len)
{
    for (const struct flag *s = spec; s != NULL && s->name != NULL; s++)
        if (strlen(s->name) == len && memcmp(s->name, name, len) == 0)
            return s;
    return NULL;
}

/* The options every command accepts after its own (a command's own --timeout wins). */
enum flags_common { FLAGS_JSON, FLAGS_HELP, FLAGS_SOCKET, FLAGS_TIMEOUT, FLAGS_COMMON };

static const struct {
    const char *name;
    bool takes_value;
} flags_common_spec[FLAGS_COMMON] = {
    [FLAGS_JSON] = {"json", false},
    [FLAGS_HELP] = {"help", false},
    [FLAGS_SOCKET] = {"socket", true},
    [FLAGS_TIMEOUT] = {"timeout", true},
};

/* Which common option name[0..len) is; FLAGS_COMMON when none. */
static enum flags_common flags_common_find(const char *name, size_t len)
{
    int i = 0;
    for (; i < FLAGS_COMMON; i++)
        if (strlen(flags_common_spec[i].name) == len &&
            memcmp(flags_common_spec[i].name, name, len) == 0)
            break;
    return (enum flags_common)i;
}

/* Apply a common option. Returns CLI_EXIT_OK or CLI_EXIT_USAGE. */
static int flags_common_apply(struct flags *f, struct cli *cli, enum flags_common which,
                              const char *value)
{
    int64_t ms;
    int rc = CLI_EXIT_OK;
    switch (which) {
    case FLAGS_JSON:
        cli->json = true;
        break;
    case FLAGS_HELP:
        f->help = true;
        break;
    case FLAGS_SOCKET:
        if (value[0] == '\0')
            return cli_usage_error(f->cmd, "--socket needs a path");
        cli->socket = value;
        break;
    default:
        rc = flags_int(f->cmd, "--timeout", value, 1, FLAGS_TIMEOUT_MAX, &ms);
        if (rc == CLI_EXIT_OK)
            cli->timeout_ms = (int)ms;
    }
    return rc;
}

/* One "--name" or "--name=value" at argv[*i]; may consume the next argument as its value. */
static int flags_option(struct flags *f, struct cli *cli, int argc, char **argv, int *i)
{
    const char *arg = argv[*i] + 2;
    const char *eq = strchr(arg, '=');
    size_t len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
    const char *value = eq != NULL ? eq + 1 : NULL;
    const struct flag *s = flags_find(f->spec, arg, len);
    enum flags_common which = s == NULL ? flags_common_find(arg, len) : FLAGS_COMMON;
    if (s == NULL && which == FLAGS_COMMON)
        return cli_usage_error(f->cmd, "unknown option '--%.*s'", (int)len, arg);
    bool takes_value = s != NULL ? s->value != NULL : flags_common_spec[which].takes_value;
    if (!takes_value && value != NULL)
        return cli_usage_error(f->cmd, "--%.*s takes no value", (int)len, arg);
    if (takes_value && value == NULL) {
        if (*i + 1 >= argc)
            return cli_usage_error(f->cmd, "--%.*s needs a value", (int)len, arg);
        value = argv[++*i];
    }
    if (s == NULL)
        return flags_common_apply(f, cli, which, value);
    if (s->value != NULL)
        *s->value = value;
    if (s->seen != NULL)
        *s->seen = true;
    return CLI_EXIT_OK;
}

/* A positional argument, or the end of the parse at the top level. */
static int flags_positional(struct flags *f, int i, char **argv, bool *stop)
{
    *stop = false;
    if (f->stop_at_pos) {
        f->rest = i;
        *stop = true;
        return CLI_EXIT_OK;
    }
    if (f->npos >= f->max_pos || f->npos >= FLAGS_MAX_POS)
        return cli_usage_error(f->cmd, "unexpected argument '%s'", argv[i]);
    f->pos[f->npos++] = argv[i];
    return CLI_EXIT_OK;
}

/* Walk argv once, left to right. */
int flags_parse(struct flags *f, struct cli *cli, int argc, char **argv)
{
    f->npos = 0;
    f->rest = argc;
    f->help = false;
    bool options_done = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool stop = false;
        int rc = CLI_EXIT_OK;
        if (options_done || a[0] != '-' || a[1] == '\0') {
            rc = flags_positional(f, i, argv, &stop);
        } else if (strcmp(a, "--") == 0) {
            options_done = true;
        } else if (strcmp(a, "-h") == 0) {
            f->help = true;
        } else if (a[1] == '-') {
            rc = flags_option(f, cli, argc, argv, &i);
        } else {
            rc = cli_usage_error(f->cmd, "unknown option '%s'", a);
        }
        if (rc != CLI_EXIT_OK || stop)
            return rc;
    }
    return CLI_EXIT_OK;
}

/* Decimal only: "010" is ten, "0x10" is an error, as a shell user expects. */
int flags_int(const char *cmd, const char *name, const char *text, int64_t min, int64_t max,
              int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    bool digits = text[0] != '\0' && (text[0] == '-' || (text[0] >= '0' && text[0] <= '9'));
    if (!digits || end == text || *end != '\0' || errno == ERANGE || v < min || v > max)
        return cli_usage_error(cmd,
                               "%s must be an integer from %" PRId64 " to %" PRId64 ", not '%s'",
                               name, min, max, text);
    *out = (int64_t)v;
    return CLI_EXIT_OK;
}

/* Job ids are positive 63-bit integers (a PostgreSQL bigint). */
int flags_job_id(const char *cmd, const char *text, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno == ERANGE || v == 0 ||
        v > INT64_MAX)
        return cli_usage_error(cmd, "a job id is a positive integer, not '%s'", text);
    *out = (uint64_t)v;
    return CLI_EXIT_OK;
}

int flags_job_opts(const char *cmd, const struct flags_job *fl, struct rs_enqueue_opts *o)
{
    int64_t v;
    int rc;
    if (fl->max_attempts != NULL) {
        if ((rc = flags_int(cmd, "--max-attempts", fl->max_attempts, 1, 1000, &v)) != 0)
            return rc;
        o->max_attempts = (unsigned)v;
    }
    if (fl->priority != NULL) {
        if ((rc = flags_int(cmd, "--priority", fl->priority, -32768, 32767, &v)) != 0)
            return rc;
        o->priority = (int)v;
    }
    if (fl->timeout != NULL) {
        if ((rc = flags_int(cmd, "--timeout", fl->timeout, 1, 86400000, &v)) != 0)
            return rc;
        o->timeout_ms = v;
    }
    if (fl->backoff != NULL) {
        if (strcmp(fl->backoff, "fixed") == 0)
            o->backoff = RS_CLIENT_BACKOFF_FIXED;
        else if (strcmp(fl->backoff, "linear") == 0)
            o->backoff = RS_CLIENT_BACKOFF_LINEAR;
        else if (strcmp(fl->backoff, "exponential") == 0)
            o->backoff = RS_CLIENT_BACKOFF_EXPONENTIAL;
        else
            return cli_usage_error(cmd, "--backoff must be fixed, linear or exponential, not '%s'",
                                   fl->backoff);
    }
    return CLI_EXIT_OK;
}
