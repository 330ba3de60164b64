/*
 * pgtest: helpers for criterion tests that run against the real PostgreSQL cluster that
 * tests/harness/with-postgres starts (one per test binary; see RESEOLIO_TEST_* there).
 *
 * Conventions: functions returning int give 0 on success and -1 on failure, with the reason
 * printed on stderr; callers must check them. Functions that return a value the test cannot
 * go on without (the conninfo, a query's integer) fail the current test themselves instead.
 * Call them only from inside a criterion test (or its init/fini).
 */
#ifndef RESEOLIO_PGTEST_H
#define RESEOLIO_PGTEST_H

#include <libpq-fe.h>

#define PGTEST_MUST_CHECK __attribute__((warn_unused_result))

/* The cluster's admin conninfo (dbname=postgres); fails the test when the harness is absent.
 * The string belongs to the environment: do not free it. */
const char *pgtest_conninfo(void);

/* Create a fresh, uniquely named database (name starts with prefix, sanitised) and return a
 * conninfo for it, or NULL on failure. The caller owns the string and frees it with free().
 * One database per test keeps tests independent of each other and of the order they run in. */
PGTEST_MUST_CHECK char *pgtest_create_db(const char *prefix);

/* Connect to conninfo; NULL on failure. The caller owns the connection (PQfinish). */
PGTEST_MUST_CHECK PGconn *pgtest_connect(const char *conninfo);

/* Run sql (one or more statements) on a new connection to conninfo. */
PGTEST_MUST_CHECK int pgtest_exec(const char *conninfo, const char *sql);

/* Run sql, which must return exactly one row with one non-NULL integer column, and return that
 * integer; anything else fails the test with the SQL and the server's message. */
PGTEST_MUST_CHECK long long pgtest_query_int(const char *conninfo, const char *sql);

/* Stop the cluster the way a crash would (pg_ctl stop -m immediate): no checkpoint, recovery from
 * WAL at the next start. Existing connections break. */
PGTEST_MUST_CHECK int pgtest_stop(void);

/* Start the cluster again and wait until it accepts connections. */
PGTEST_MUST_CHECK int pgtest_start(void);

/* pgtest_stop then pgtest_start: a crash-like restart of PostgreSQL for chaos tests. */
PGTEST_MUST_CHECK int pgtest_restart(void);

#endif
