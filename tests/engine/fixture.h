/*
 * The engine tests' fixture: a fresh database in the harness's PostgreSQL and the real
 * reseoliod started on it, ready when it says so.
 */
#ifndef RESEOLIO_TEST_ENGINE_FIXTURE_H
#define RESEOLIO_TEST_ENGINE_FIXTURE_H

#include "client.h"
#include "daemon_proc.h"

/* Owner: the test. */
struct fixture {
    struct daemon_proc d;
    char *db; /* conninfo of this test's database (malloc'd) */
};

/* Make a database named after prefix, start the daemon on it with extra flags (NULL-ended,
 * may be NULL). Fails the test when anything does not work. */
void fx_start(struct fixture *f, const char *prefix, const char *const *extra);

/* Stop the daemon (SIGTERM) and free. Returns the daemon's wait status. */
int fx_stop(struct fixture *f);

/* Connect a client to the fixture's daemon; fails the test when it cannot. */
void fx_client(struct fixture *f, struct ec *c);

/* One integer from the test's database. */
long long fx_int(struct fixture *f, const char *sql);

#endif
