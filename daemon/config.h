/*
 * The daemon's settings: command-line flags over environment variables over defaults,
 * each value validated before anything starts.
 */
#ifndef RESEOLIOD_CONFIG_H
#define RESEOLIOD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"

#define CONFIG_SCHEMA_DEFAULT          "reseolio"
#define CONFIG_MAX_CONNECTIONS_DEFAULT 1024u
#define CONFIG_MAX_CONNECTIONS_LIMIT   65536u
#define CONFIG_SHUTDOWN_GRACE_DEFAULT  10000u
#define CONFIG_SHUTDOWN_GRACE_LIMIT    3600000u
#define CONFIG_HEARTBEAT_DEFAULT       5000u
#define CONFIG_HEARTBEAT_MIN           50u
#define CONFIG_HEARTBEAT_LIMIT         600000u
#define CONFIG_LEASE_DEFAULT           30000u
#define CONFIG_LEASE_LIMIT             3600000u
#define CONFIG_UNAVAILABLE_DEFAULT     10000u
#define CONFIG_UNAVAILABLE_LIMIT       3600000u
#define CONFIG_RETENTION_DEFAULT       604800u    /* 7 days, seconds */
#define CONFIG_RETENTION_LIMIT         315360000u /* 10 years */
#define CONFIG_VACUUM_WARN_DEFAULT     300u       /* 5 minutes, seconds */
#define CONFIG_VACUUM_WARN_LIMIT       86400u     /* a day */
#define CONFIG_ALLOW_MAX               64u        /* entries in --allow-uid, in --allow-gid */

/* Owner: main; release with config_free. Strings are malloc'd. */
struct config {
    char *socket_path;  /* always set after config_load */
    char *storage;      /* NULL: the private cluster; may hold a password, never log */
    char *schema;       /* PostgreSQL schema of the tables */
    char *state_dir;    /* the private cluster's home; NULL: pgcluster_default_state_dir() */
    char *metrics_addr; /* HOST:PORT or a Unix socket path of the HTTP endpoint; NULL: off */
    enum log_level log_level;
    uint32_t max_frame;         /* frame body limit announced in WELCOME */
    uint32_t max_connections;   /* connections served at once */
    uint32_t shutdown_grace_ms; /* running jobs get this long to ACK at a graceful stop */
    uint32_t heartbeat_ms;      /* heartbeat and safety sweep period */
    uint32_t lease_ms;          /* a node silent this long loses its running jobs */
    uint32_t unavailable_ms;    /* a request waiting this long for PostgreSQL gets unavailable */
    uint32_t retention_s;       /* finished jobs are deleted this long after; 0: kept forever */
    uint32_t vacuum_warn_s;     /* warn of a transaction holding back vacuum this long; 0: off */
    /* The peer allow-list (--allow-uid, --allow-gid): when allow_list is set, a peer is served
     * only if it is us, root, a listed uid, or a member of a listed group (server.c). */
    bool allow_list;
    uid_t allow_uids[CONFIG_ALLOW_MAX];
    size_t n_allow_uids;
    gid_t allow_gids[CONFIG_ALLOW_MAX];
    size_t n_allow_gids;
};

enum config_result {
    CONFIG_RUN = 0, /* settings valid: start the daemon */
    CONFIG_EXIT,    /* --help or --version was printed: exit 0 */
    CONFIG_INVALID, /* a message is in err: exit 2 */
};

/*
 * Fill cfg from argv and the environment (RESEOLIO_*). Flags beat environment variables.
 * On CONFIG_INVALID err holds a message naming the setting; cfg must still be freed.
 */
enum config_result config_load(struct config *cfg, int argc, char **argv, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void config_free(struct config *cfg);

/*
 * The default socket path (docs/protocol.md §1): $RESEOLIO_SOCKET,
 * $XDG_RUNTIME_DIR/reseolio/reseolio.sock, /tmp/reseolio-$UID/reseolio.sock.
 * Returns 0, or -1 when it does not fit in size.
 */
int config_default_socket(char *buf, size_t size) __attribute__((warn_unused_result));

#endif
