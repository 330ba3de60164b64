/*
 * Runs the real reseoliod for a test: a private socket in a temp dir, readiness taken from
 * its "ready" log line (no sleeping), its stderr captured, stopped by SIGTERM or SIGKILL.
 */
#ifndef RESEOLIO_TEST_DAEMON_PROC_H
#define RESEOLIO_TEST_DAEMON_PROC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* How long a daemon may take to say "ready" or to exit (sanitizer builds are slow). */
#define DAEMON_PROC_TIMEOUT_MS 20000

/* How to start one daemon; every field may stay zero. */
struct daemon_opts {
    const char *socket;      /* NULL: <dir>/reseolio.sock */
    const char *const *args; /* extra flags, NULL-terminated; --socket is added unless given */
    const char *const *env;  /* extra NAME=VALUE, NULL-terminated (RESEOLIO_* are cleared) */
    bool no_socket_flag;     /* do not pass --socket (to test RESEOLIO_SOCKET) */
    bool umask_000;          /* start it under umask 000 */
    /* Without --storage or RESEOLIO_STORAGE the daemon gets the harness's PostgreSQL
     * ($RESEOLIO_TEST_PG) as RESEOLIO_STORAGE; this keeps it on its private cluster instead.
     * RESEOLIO_STATE_DIR is always <dir>/state, so no test touches the user's state. */
    bool private_storage;
};

/* Owner: the test; release with daemon_proc_cleanup. */
struct daemon_proc {
    pid_t pid;  /* 0 when not running */
    int pidfd;  /* readable when the daemon exits */
    int err_fd; /* read end of its stderr */
    bool reaped;
    int status;   /* wait status after it exited */
    char dir[64]; /* private temp dir, removed by cleanup */
    char socket[108];
    char env_storage[2048]; /* RESEOLIO_STORAGE=... given to the daemon, or "" */
    char env_state[96];     /* RESEOLIO_STATE_DIR=<dir>/state */
    pthread_t drain;        /* copies stderr into log (and to our stderr) */
    bool draining;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *log; /* everything it wrote to stderr, NUL-terminated */
    size_t log_len;
    bool log_eof;
};

/* Make the temp dir and default socket path. Returns 0 or -1. */
int daemon_proc_init(struct daemon_proc *d);

/*
 * Start the daemon and wait until it logs "ready". Returns 0 when ready, or -1 when it
 * exited first (d->status tells how) or did not get ready in time (it is killed then).
 */
int daemon_proc_start(struct daemon_proc *d, const struct daemon_opts *o);

/* Wait for the daemon to exit within timeout_ms; returns its wait status or -1 on timeout. */
int daemon_proc_wait(struct daemon_proc *d, int timeout_ms);

/* SIGTERM, then wait (SIGKILL after DAEMON_PROC_TIMEOUT_MS). Returns the wait status. */
int daemon_proc_stop(struct daemon_proc *d);

/* SIGKILL and reap. */
void daemon_proc_kill(struct daemon_proc *d);

/* Wait until its log contains needle (or it ended, or timeout_ms passed). */
bool daemon_proc_wait_log(struct daemon_proc *d, const char *needle, int timeout_ms);

/* True if its log so far contains needle. */
bool daemon_proc_log_has(struct daemon_proc *d, const char *needle);

/* Kill it if still running, stop the drain, remove the temp dir. Safe to call twice. */
void daemon_proc_cleanup(struct daemon_proc *d);

#endif
