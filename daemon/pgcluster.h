/*
 * The daemon's private PostgreSQL cluster: with no --storage, reseoliod creates (initdb), starts
 * and stops a cluster of its own under its state directory, so that a first run needs no set-up.
 *
 * Layout under the state directory <state>:
 *   <state>/pg       the cluster (PGDATA), made by initdb on the first start
 *   <state>/pg-run   its Unix socket directory, mode 0700; the server listens on no TCP address
 *   <state>/pg.log   output of initdb and pg_ctl, and the server's own log
 *   <state>/lock     flock()ed while a daemon uses the cluster: one daemon per state directory
 *
 * Authentication is "trust" for the Unix socket and "reject" for TCP. That is safe because the
 * socket lives in a directory of mode 0700 owned by the cluster's owner: only that user (and
 * root) can reach it at all, and they could read the data files directly anyway. Peer
 * authentication would not work for a daemon that runs as root (its OS user would not match
 * the database user), and a password would have to be stored beside the data it protects.
 *
 * PostgreSQL refuses to run as root. A daemon running as root runs the cluster as the OS user
 * "postgres", which the server package creates; when there is none it fails and says what to
 * install. It never creates a user itself: adding accounts to the host is the packager's or the
 * administrator's decision, not a side effect of starting a daemon.
 *
 * A server of this cluster that is still running (its daemon was killed with SIGKILL) is
 * reused, not restarted; a stale postmaster.pid after a crash is PostgreSQL's own business.
 *
 * Everything here blocks (fork, exec, waitpid, blocking libpq): call it before the event loop
 * runs, or after it has stopped. SIGCHLD must not be ignored (waitpid needs the exit statuses).
 */
#ifndef RESEOLIOD_PGCLUSTER_H
#define RESEOLIOD_PGCLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The fixed port of the private cluster: its socket directory is private, so no clash. */
#define PGCLUSTER_PORT 5432
/* The database the daemon uses inside the cluster, created on the first start. */
#define PGCLUSTER_DBNAME "reseolio"
/* The OS user that runs the cluster when the daemon runs as root. */
#define PGCLUSTER_ROOT_RUN_AS "postgres"
/* Longest state directory: <state>/pg-run/.s.PGSQL.5432 must fit in sockaddr_un.sun_path. */
#define PGCLUSTER_STATE_DIR_MAX 86

/* What the caller chooses; every field may be NULL for the default. */
struct pgcluster_opts {
    const char *state_dir; /* NULL: pgcluster_default_state_dir() */
    const char *pg_bin;    /* NULL: $RESEOLIO_PG_BIN, else `pg_config --bindir`, else the
                              highest /usr/lib/postgresql/N/bin that has initdb */
};

/*
 * A started cluster. Owner: the caller (embed it; no heap). Zero it before use:
 * pgcluster_stop on a zeroed or failed-to-start cluster does nothing.
 */
struct pgcluster {
    bool running;   /* started or reused by pgcluster_start, not yet stopped */
    int lock_fd;    /* <state>/lock, flock()ed while running */
    uid_t uid;      /* the OS user that owns and runs the cluster */
    gid_t gid;      /* its primary group */
    bool drop_user; /* we are root: PostgreSQL programs run as uid/gid */
    char user[64];  /* its name, which is also the database superuser's */
    char state_dir[PGCLUSTER_STATE_DIR_MAX + 1];
    char pgdata[PGCLUSTER_STATE_DIR_MAX + 16];
    char sockdir[PGCLUSTER_STATE_DIR_MAX + 16];
    char logfile[PGCLUSTER_STATE_DIR_MAX + 16];
    char bindir[256]; /* where initdb, pg_ctl and postgres are */
    int major;        /* PostgreSQL major version of those programs */
    /* libpq conninfo of the daemon's database: host=<state>/pg-run port=5432
       dbname=reseolio user=<user> */
    char conninfo[512];
};

/*
 * The default state directory: $RESEOLIO_STATE_DIR; for root /var/lib/reseolio; else
 * $XDG_STATE_HOME/reseolio, else ~/.local/state/reseolio. Returns 0, or -1 when it does not
 * fit in size or no home directory is known.
 */
int pgcluster_default_state_dir(char *buf, size_t size) __attribute__((warn_unused_result));

/*
 * Create the cluster if it does not exist yet, start it (or reuse a server of it that is
 * already running), create the daemon's database in it, and fill out (out->conninfo is what to
 * connect to). Logs what it does. Returns 0, or -1 with the reason in err; on failure nothing
 * is left running and out needs no stop.
 */
int pgcluster_start(const struct pgcluster_opts *opts, struct pgcluster *out, char *err,
                    size_t errlen) __attribute__((warn_unused_result));

/*
 * Stop the server (fast shutdown: sessions are ended, a checkpoint is written; immediate
 * shutdown if that does not finish in time) and release the state directory. Returns 0, or -1
 * when the server could not be stopped (logged). A no-op on a cluster that is not running.
 */
int pgcluster_stop(struct pgcluster *pc) __attribute__((warn_unused_result));

#endif
