/*
 * What every chaos test binary shares: a database of the test's own and daemons on it with
 * short heartbeat and lease, and bounded waits on worker logs.
 */
#ifndef RESEOLIO_TEST_CHAOS_COMMON_H
#define RESEOLIO_TEST_CHAOS_COMMON_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "chaos.h"
#include "client.h"
#include "daemon_proc.h"
#include "pgtest.h"

/* Short timings so that a dead host costs about two seconds here. */
#define CHAOS_HEARTBEAT "200"
#define CHAOS_LEASE     "1500"

/* Start d on db with the short timings and extra flags; fails the test when it does not get
 * ready. The socket stays the same over restarts of d. */
static inline void chaos_start(struct daemon_proc *d, const char *db, const char *const *extra)
{
    const char *args[32];
    size_t n = 0;
    args[n++] = "--storage";
    args[n++] = db;
    args[n++] = "--heartbeat-ms";
    args[n++] = CHAOS_HEARTBEAT;
    args[n++] = "--lease-ms";
    args[n++] = CHAOS_LEASE;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 30; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    struct daemon_opts o = {.args = args};
    cr_assert_eq(daemon_proc_start(d, &o), 0, "the daemon did not get ready");
    cr_assert(daemon_proc_wait_log(d, "job engine ready", DAEMON_PROC_TIMEOUT_MS),
              "the job engine did not get ready");
}

/* Wait until the log at path holds at least want records of kind (bounded). */
static inline bool chaos_wait_log(const char *path, char kind, long want, int timeout_ms)
{
    int64_t end = chaos_now_ms() + timeout_ms;
    for (;;) {
        if (chaos_count(path, kind) >= want)
            return true;
        if (chaos_now_ms() >= end)
            return false;
        struct timespec ts = {0, 20 * 1000000L}; /* the pace of the poll, not a wait for it */
        nanosleep(&ts, NULL);
    }
}

/* path = dir/name */
static inline void chaos_path(char *out, size_t size, const struct daemon_proc *d, const char *name)
{
    snprintf(out, size, "%s/%s", d->dir, name);
}

#endif
