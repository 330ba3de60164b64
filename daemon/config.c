/*
 * The daemon's settings: command-line flags over environment variables over defaults,
 * each value validated before anything starts.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "reseolio/proto.h"
#include "pgcluster.h"
#include "storage_identity.h"

#ifndef RESEOLIOD_VERSION
#define RESEOLIOD_VERSION "unknown"
#endif

/* One setting: its flag, its environment variable, and where a value goes. */
enum config_key {
    KEY_SOCKET = 0,
    KEY_STORAGE,
    KEY_SCHEMA,
    KEY_LOG_LEVEL,
    KEY_MAX_FRAME,
    KEY_MAX_CONNECTIONS,
    KEY_STATE_DIR,
    KEY_SHUTDOWN_GRACE,
    KEY_HEARTBEAT,
    KEY_LEASE,
    KEY_UNAVAILABLE,
    KEY_METRICS_ADDR,
    KEY_ALLOW_UID,
    KEY_ALLOW_GID,
    KEY_RETENTION,
    KEY_VACUUM_WARN,
    KEY_COUNT,
};

static const struct {
    const char *flag;
    const char *env;
} config_keys[KEY_COUNT] = {
    [KEY_SOCKET] = {"socket", "RESEOLIO_SOCKET"},
    [KEY_STORAGE] = {"storage", "RESEOLIO_STORAGE"},
    [KEY_SCHEMA] = {"schema", "RESEOLIO_SCHEMA"},
    [KEY_LOG_LEVEL] = {"log-level", "RESEOLIO_LOG_LEVEL"},
    [KEY_MAX_FRAME] = {"max-frame", "RESEOLIO_MAX_FRAME"},
    [KEY_MAX_CONNECTIONS] = {"max-connections", "RESEOLIO_MAX_CONNECTIONS"},
    [KEY_STATE_DIR] = {"state-dir", "RESEOLIO_STATE_DIR"},
    [KEY_SHUTDOWN_GRACE] = {"shutdown-grace-ms", "RESEOLIO_SHUTDOWN_GRACE_MS"},
    [KEY_HEARTBEAT] = {"heartbeat-ms", "RESEOLIO_HEARTBEAT_MS"},
    [KEY_LEASE] = {"lease-ms", "RESEOLIO_LEASE_MS"},
    [KEY_UNAVAILABLE] = {"unavailable-ms", "RESEOLIO_UNAVAILABLE_MS"},
    [KEY_METRICS_ADDR] = {"metrics-addr", "RESEOLIO_METRICS_ADDR"},
    [KEY_ALLOW_UID] = {"allow-uid", "RESEOLIO_ALLOW_UID"},
    [KEY_ALLOW_GID] = {"allow-gid", "RESEOLIO_ALLOW_GID"},
    [KEY_RETENTION] = {"retention-s", "RESEOLIO_RETENTION_S"},
    [KEY_VACUUM_WARN] = {"vacuum-warn-s", "RESEOLIO_VACUUM_WARN_S"},
};

enum { OPT_HELP = 'h', OPT_VERSION = 'V', OPT_KEY_BASE = 256 };

static const char config_usage[] =
    "usage: reseoliod [options]\n"
    "\n"
    "The Reseolio daemon: one per host, serving every application process on it.\n"
    "\n"
    "  --socket PATH          Unix socket to listen on           [RESEOLIO_SOCKET]\n"
    "                         default $XDG_RUNTIME_DIR/reseolio/reseolio.sock,\n"
    "                         else /tmp/reseolio-$UID/reseolio.sock\n"
    "  --storage CONNINFO     PostgreSQL connection string or URL [RESEOLIO_STORAGE]\n"
    "                         default: a private cluster of the daemon\n"
    "  --state-dir DIR        home of the private cluster        [RESEOLIO_STATE_DIR]\n"
    "                         default $XDG_STATE_HOME/reseolio or ~/.local/state/reseolio\n"
    "                         (/var/lib/reseolio as root)\n"
    "  --schema NAME          schema of the job tables (default reseolio) [RESEOLIO_SCHEMA]\n"
    "  --log-level LEVEL      debug, info, warn or error (default info) [RESEOLIO_LOG_LEVEL]\n"
    "  --max-frame BYTES      largest message body, 4096..67108864 (default 1048576)\n"
    "                                                            [RESEOLIO_MAX_FRAME]\n"
    "  --max-connections N    connections served at once, 1..65536 (default 1024)\n"
    "                                                            [RESEOLIO_MAX_CONNECTIONS]\n"
    "  --shutdown-grace-ms MS time running jobs get to finish at SIGTERM, 0..3600000\n"
    "                         (default 10000)               [RESEOLIO_SHUTDOWN_GRACE_MS]\n"
    "  --heartbeat-ms MS      heartbeat and safety sweep period, 50..600000\n"
    "                         (default 5000)                     [RESEOLIO_HEARTBEAT_MS]\n"
    "  --lease-ms MS          a daemon silent this long loses its running jobs to the\n"
    "                         others; > 2 x heartbeat, ..3600000 (default 30000)\n"
    "                                                            [RESEOLIO_LEASE_MS]\n"
    "  --retention-s SECONDS  finished jobs (results, errors, keys) are deleted this long\n"
    "                         after they finished; 0 keeps them forever, ..315360000\n"
    "                         (default 604800: 7 days)            [RESEOLIO_RETENTION_S]\n"
    "  --vacuum-warn-s SECONDS  warn when a transaction of the database has held back\n"
    "                         vacuum this long; 0 never, ..86400 (default 300)\n"
    "                                                            [RESEOLIO_VACUUM_WARN_S]\n"
    "  --unavailable-ms MS    a request that waits this long for PostgreSQL is answered\n"
    "                         unavailable (retryable), 100..3600000 (default 10000)\n"
    "                                                            [RESEOLIO_UNAVAILABLE_MS]\n"
    "  --metrics-addr ADDR    serve /metrics and /healthz over HTTP on HOST:PORT (e.g.\n"
    "                         127.0.0.1:9464) or a Unix socket PATH; default: off\n"
    "                                                            [RESEOLIO_METRICS_ADDR]\n"
    "  --allow-uid LIST       users (names or uids, comma-separated) that may connect\n"
    "                         besides the daemon's own and root     [RESEOLIO_ALLOW_UID]\n"
    "  --allow-gid LIST       groups (names or gids) whose members may connect\n"
    "                                                            [RESEOLIO_ALLOW_GID]\n"
    "                         Either one makes the daemon's own socket 0666 and checks\n"
    "                         every peer, also on a socket-activated socket; without\n"
    "                         them only the daemon's uid and root are served\n"
    "  --help                 print this and exit\n"
    "  --version              print the version and exit\n"
    "\n"
    "Flags beat environment variables.\n";

/* HOST:PORT with a port in 1..65535 (an IPv6 host in brackets), or an absolute path that fits a
 * Unix socket address. Returns 0 when valid. */
static int config_check_metrics_addr(const char *v)
{
    if (v[0] == '/')
        return strlen(v) < sizeof(((struct sockaddr_un *)0)->sun_path) ? 0 : -1;
    const char *colon = strrchr(v, ':');
    if (colon == NULL || colon == v || colon[1] == '\0' || strlen(colon + 1) > 5)
        return -1;
    for (const char *p = colon + 1; *p != '\0'; p++)
        if (*p < '0' || *p > '9')
            return -1;
    long port = strtol(colon + 1, NULL, 10);
    if (port < 1 || port > 65535 || colon - v > 255)
        return -1;
    if (v[0] == '[' && colon[-1] != ']')
        return -1;
    return 0;
}

/* Parse a decimal unsigned integer in [min, max], the whole string and nothing else. */
static int config_parse_uint(const char *s, uint64_t min, uint64_t max, uint32_t *out)
{
    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/*
 * A comma-separated list of user (group when group is set) names or numeric ids into ids, at
 * most CONFIG_ALLOW_MAX entries; names are looked up now, before anything starts. Returns the
 * count, or -1 with why set.
 */
static long config_parse_ids(const char *value, bool group, uint32_t *ids, char *why, size_t whylen)
{
    char *copy = strdup(value);
    if (copy == NULL) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    long n = 0;
    char *save = NULL;
    const char *what = group ? "group" : "user";
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (n == (long)CONFIG_ALLOW_MAX) {
            snprintf(why, whylen, "at most %u entries", CONFIG_ALLOW_MAX);
            n = -1;
            break;
        }
        uint32_t id;
        if (config_parse_uint(tok, 0, UINT32_MAX - 1, &id) == 0) {
            ids[n++] = id;
            continue;
        }
        struct passwd *pw = group ? NULL : getpwnam(tok);
        struct group *gr = group ? getgrnam(tok) : NULL;
        if (pw == NULL && gr == NULL) {
            snprintf(why, whylen, "no %s named '%.64s'", what, tok);
            n = -1;
            break;
        }
        ids[n++] = group ? (uint32_t)gr->gr_gid : (uint32_t)pw->pw_uid;
    }
    free(copy);
    if (n == 0) {
        snprintf(why, whylen, "an empty list");
        n = -1;
    }
    return n;
}

/* A schema name that needs no quoting in SQL: [a-z_][a-z0-9_]*, at most 63 bytes. */
static int config_check_schema(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || (s[0] >= '0' && s[0] <= '9'))
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return -1;
    }
    return 0;
}

/* Replace a string setting with a copy of value. */
static int config_set_string(char **slot, const char *value)
{
    char *copy = strdup(value);
    if (copy == NULL)
        return -1;
    free(*slot);
    *slot = copy;
    return 0;
}

/* Validate one value and store it; origin names where it came from for the message. */
static int config_apply(struct config *cfg, enum config_key key, const char *value,
                        const char *origin, char *err, size_t errlen)
{
    char why[128];
    switch (key) {
    case KEY_SOCKET:
        if (value[0] == '\0' || strlen(value) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            snprintf(err, errlen, "%s: socket path must be 1..%zu bytes", origin,
                     sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
            return -1;
        }
        return config_set_string(&cfg->socket_path, value);
    case KEY_STORAGE: {
        struct storage_identity id;
        if (value[0] == '\0') {
            snprintf(err, errlen, "%s: storage must not be empty (leave it out for the default)",
                     origin);
            return -1;
        }
        if (storage_identity_parse(&id, value, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "%s: %s", origin, why);
            return -1;
        }
        storage_identity_free(&id);
        return config_set_string(&cfg->storage, value);
    }
    case KEY_SCHEMA:
        if (config_check_schema(value) != 0) {
            snprintf(err, errlen, "%s: schema must match [a-z_][a-z0-9_]* (at most 63 bytes)",
                     origin);
            return -1;
        }
        return config_set_string(&cfg->schema, value);
    case KEY_LOG_LEVEL:
        if (log_level_parse(value, &cfg->log_level) != 0) {
            snprintf(err, errlen, "%s: log level must be debug, info, warn or error", origin);
            return -1;
        }
        return 0;
    case KEY_MAX_FRAME:
        if (config_parse_uint(value, RS_MAX_FRAME_MIN, RS_MAX_FRAME_HARD, &cfg->max_frame) != 0) {
            snprintf(err, errlen, "%s: max frame must be an integer in %u..%u", origin,
                     RS_MAX_FRAME_MIN, RS_MAX_FRAME_HARD);
            return -1;
        }
        return 0;
    case KEY_MAX_CONNECTIONS:
        if (config_parse_uint(value, 1, CONFIG_MAX_CONNECTIONS_LIMIT, &cfg->max_connections) != 0) {
            snprintf(err, errlen, "%s: max connections must be an integer in 1..%u", origin,
                     CONFIG_MAX_CONNECTIONS_LIMIT);
            return -1;
        }
        return 0;
    case KEY_STATE_DIR:
        if (value[0] != '/' || strlen(value) > PGCLUSTER_STATE_DIR_MAX) {
            snprintf(err, errlen,
                     "%s: state directory must be an absolute path of at most %d bytes", origin,
                     PGCLUSTER_STATE_DIR_MAX);
            return -1;
        }
        return config_set_string(&cfg->state_dir, value);
    case KEY_SHUTDOWN_GRACE:
        if (config_parse_uint(value, 0, CONFIG_SHUTDOWN_GRACE_LIMIT, &cfg->shutdown_grace_ms) !=
            0) {
            snprintf(err, errlen, "%s: shutdown grace must be an integer in 0..%u (ms)", origin,
                     CONFIG_SHUTDOWN_GRACE_LIMIT);
            return -1;
        }
        return 0;
    case KEY_HEARTBEAT:
        if (config_parse_uint(value, CONFIG_HEARTBEAT_MIN, CONFIG_HEARTBEAT_LIMIT,
                              &cfg->heartbeat_ms) != 0) {
            snprintf(err, errlen, "%s: heartbeat must be an integer in %u..%u (ms)", origin,
                     CONFIG_HEARTBEAT_MIN, CONFIG_HEARTBEAT_LIMIT);
            return -1;
        }
        return 0;
    case KEY_LEASE:
        if (config_parse_uint(value, 1, CONFIG_LEASE_LIMIT, &cfg->lease_ms) != 0) {
            snprintf(err, errlen, "%s: lease must be an integer in 1..%u (ms)", origin,
                     CONFIG_LEASE_LIMIT);
            return -1;
        }
        return 0;
    case KEY_RETENTION:
        if (config_parse_uint(value, 0, CONFIG_RETENTION_LIMIT, &cfg->retention_s) != 0) {
            snprintf(err, errlen, "%s: retention must be an integer in 0..%u (seconds)", origin,
                     CONFIG_RETENTION_LIMIT);
            return -1;
        }
        return 0;
    case KEY_VACUUM_WARN:
        if (config_parse_uint(value, 0, CONFIG_VACUUM_WARN_LIMIT, &cfg->vacuum_warn_s) != 0) {
            snprintf(err, errlen, "%s: vacuum warning age must be an integer in 0..%u (seconds)",
                     origin, CONFIG_VACUUM_WARN_LIMIT);
            return -1;
        }
        return 0;
    case KEY_UNAVAILABLE:
        if (config_parse_uint(value, 100, CONFIG_UNAVAILABLE_LIMIT, &cfg->unavailable_ms) != 0) {
            snprintf(err, errlen, "%s: unavailable wait must be an integer in 100..%u (ms)", origin,
                     CONFIG_UNAVAILABLE_LIMIT);
            return -1;
        }
        return 0;
    case KEY_METRICS_ADDR:
        if (config_check_metrics_addr(value) != 0) {
            snprintf(err, errlen,
                     "%s: metrics address must be HOST:PORT (port 1..65535, e.g. "
                     "127.0.0.1:9464) or an absolute Unix socket path of at most %zu bytes",
                     origin, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
            return -1;
        }
        return config_set_string(&cfg->metrics_addr, value);
    case KEY_ALLOW_UID:
    case KEY_ALLOW_GID: {
        bool group = key == KEY_ALLOW_GID;
        uint32_t ids[CONFIG_ALLOW_MAX];
        long n = config_parse_ids(value, group, ids, why, sizeof(why));
        if (n < 0) {
            snprintf(err, errlen, "%s: %s; expected %s names or ids, comma-separated", origin, why,
                     group ? "group" : "user");
            return -1;
        }
        for (long i = 0; i < n; i++) {
            if (group)
                cfg->allow_gids[i] = (gid_t)ids[i];
            else
                cfg->allow_uids[i] = (uid_t)ids[i];
        }
        *(group ? &cfg->n_allow_gids : &cfg->n_allow_uids) = (size_t)n;
        cfg->allow_list = true;
        return 0;
    }
    case KEY_COUNT:
        break;
    }
    return -1;
}

/* The default socket path rule of docs/protocol.md §1. */
int config_default_socket(char *buf, size_t size)
{
    const char *env = getenv("RESEOLIO_SOCKET");
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    int n;
    if (env != NULL && env[0] != '\0')
        n = snprintf(buf, size, "%s", env);
    else if (xdg != NULL && xdg[0] != '\0')
        n = snprintf(buf, size, "%s/reseolio/reseolio.sock", xdg);
    else
        n = snprintf(buf, size, "/tmp/reseolio-%lu/reseolio.sock", (unsigned long)getuid());
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* Defaults, then the environment, then the flags. */
enum config_result config_load(struct config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->log_level = LOG_LEVEL_INFO;
    cfg->max_frame = RS_MAX_FRAME_DEFAULT;
    cfg->max_connections = CONFIG_MAX_CONNECTIONS_DEFAULT;
    cfg->shutdown_grace_ms = CONFIG_SHUTDOWN_GRACE_DEFAULT;
    cfg->heartbeat_ms = CONFIG_HEARTBEAT_DEFAULT;
    cfg->lease_ms = CONFIG_LEASE_DEFAULT;
    cfg->retention_s = CONFIG_RETENTION_DEFAULT;
    cfg->vacuum_warn_s = CONFIG_VACUUM_WARN_DEFAULT;
    cfg->unavailable_ms = CONFIG_UNAVAILABLE_DEFAULT;
    if (config_set_string(&cfg->schema, CONFIG_SCHEMA_DEFAULT) != 0)
        goto nomem;

    for (int k = 0; k < KEY_COUNT; k++) {
        const char *v = getenv(config_keys[k].env);
        if (v == NULL || v[0] == '\0')
            continue;
        if (config_apply(cfg, (enum config_key)k, v, config_keys[k].env, err, errlen) != 0)
            return CONFIG_INVALID;
    }

    struct option longopts[KEY_COUNT + 3];
    for (int k = 0; k < KEY_COUNT; k++)
        longopts[k] =
            (struct option){config_keys[k].flag, required_argument, NULL, OPT_KEY_BASE + k};
    longopts[KEY_COUNT] = (struct option){"help", no_argument, NULL, OPT_HELP};
    longopts[KEY_COUNT + 1] = (struct option){"version", no_argument, NULL, OPT_VERSION};
    longopts[KEY_COUNT + 2] = (struct option){NULL, 0, NULL, 0};

    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        if (c == OPT_HELP) {
            fputs(config_usage, stdout);
            return CONFIG_EXIT;
        }
        if (c == OPT_VERSION) {
            printf("reseoliod %s (protocol %d)\n", RESEOLIOD_VERSION, RS_PROTOCOL_VERSION);
            return CONFIG_EXIT;
        }
        if (c >= OPT_KEY_BASE && c < OPT_KEY_BASE + KEY_COUNT) {
            enum config_key k = (enum config_key)(c - OPT_KEY_BASE);
            char origin[40];
            snprintf(origin, sizeof(origin), "--%s", config_keys[k].flag);
            if (config_apply(cfg, k, optarg, origin, err, errlen) != 0)
                return CONFIG_INVALID;
            continue;
        }
        if (c == ':')
            snprintf(err, errlen, "%s needs a value (see --help)", argv[optind - 1]);
        else
            snprintf(err, errlen, "unknown option %s (see --help)", argv[optind - 1]);
        return CONFIG_INVALID;
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
        return CONFIG_INVALID;
    }

    if ((uint64_t)cfg->lease_ms <= 2 * (uint64_t)cfg->heartbeat_ms) {
        snprintf(err, errlen,
                 "lease (%u ms) must be more than twice the heartbeat (%u ms): one late beat "
                 "must not cost a live daemon its jobs",
                 cfg->lease_ms, cfg->heartbeat_ms);
        return CONFIG_INVALID;
    }

    if (cfg->socket_path == NULL) {
        char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
        if (config_default_socket(path, sizeof(path)) != 0) {
            snprintf(err, errlen, "the default socket path is too long; give --socket");
            return CONFIG_INVALID;
        }
        if (config_set_string(&cfg->socket_path, path) != 0)
            goto nomem;
    }
    return CONFIG_RUN;

nomem:
    snprintf(err, errlen, "out of memory");
    return CONFIG_INVALID;
}

/* Release the strings. */
void config_free(struct config *cfg)
{
    free(cfg->socket_path);
    free(cfg->storage);
    free(cfg->schema);
    free(cfg->state_dir);
    free(cfg->metrics_addr);
    memset(cfg, 0, sizeof(*cfg));
}
