/*
 * Storage boot: the blocking steps before the engine can use PostgreSQL (start the private
 * cluster when no storage is given, apply the migrations), run in a helper thread so that
 * the daemon serves its socket at once; retried with a backoff until they succeed.
 */
#ifndef RESEOLIOD_BOOT_H
#define RESEOLIOD_BOOT_H

#include <pthread.h>
#include <stdbool.h>

#include "pgcluster.h"

struct event;
struct event_base;

/* First and longest wait before booting again after a failure. */
#define BOOT_RETRY_MIN_MS 1000
#define BOOT_RETRY_MAX_MS 30000

/* Called on the loop once the storage is ready (conninfo lives as long as the boot), or with
 * conninfo NULL after an attempt failed (another follows). */
typedef void (*boot_ready_cb)(void *arg, const char *conninfo);

/* What to boot; strings are copied. */
struct boot_opts {
    const char *storage;   /* NULL: the private cluster */
    const char *state_dir; /* NULL: the default */
    const char *schema;
    const char *display; /* the storage as logs show it (no password) */
};

/* Owner: the engine; release with boot_free. The thread writes only the result fields, and
 * only until it signals the pipe; the loop reads them after that. */
struct boot {
    struct event_base *base;
    char *storage, *state_dir, *schema, *display; /* owned copies */
    boot_ready_cb ready;
    void *arg;
    pthread_t thread;
    bool thread_running; /* started and not joined */
    int pipe[2];         /* the thread writes one byte when it is done */
    struct event *ev_done;
    struct event *ev_retry;
    int retry_ms;
    /* results, from the thread */
    int rc;
    int version;
    char err[512];
    struct pgcluster cluster; /* running while the private cluster is ours */
    char conninfo_priv[512];
};

/* Start booting (a thread now; ready(arg, conninfo) on the loop when done). Returns 0 or -1. */
int boot_start(struct boot **out, struct event_base *base, const struct boot_opts *o,
               boot_ready_cb ready, void *arg) __attribute__((warn_unused_result));

/* Wait for a boot in progress to end, stop the private cluster, release everything. */
void boot_free(struct boot *b);

#endif
