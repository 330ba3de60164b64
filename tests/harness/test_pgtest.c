/*
 * Proves the PostgreSQL harness itself: every other PG-backed test trusts that it gets a live
 * server, isolated databases and a restart that really restarts the server and keeps the data.
 */
#include "pgtest.h"

#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

/* The name of the database conninfo connects to; caller frees. */
static char *current_database(const char *conninfo)
{
    PGconn *conn = pgtest_connect(conninfo);
    PGresult *res;
    char *name = NULL;

    cr_assert_not_null(conn);
    res = PQexec(conn, "SELECT current_database()");
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        name = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    PQfinish(conn);
    cr_assert_not_null(name);
    return name;
}

Test(harness, connects_to_postgresql_15)
{
    cr_expect_eq(pgtest_query_int(pgtest_conninfo(), "SELECT 1"), 1);
    long long version = pgtest_query_int(pgtest_conninfo(), "SHOW server_version_num");
    cr_expect(version >= 150000 && version < 160000, "server_version_num is %lld", version);
    /* The harness promises a socket-only server: no TCP listener at all. */
    cr_expect_eq(pgtest_query_int(pgtest_conninfo(),
                                  "SELECT count(*) FROM pg_settings "
                                  "WHERE name = 'listen_addresses' AND setting = ''"),
                 1);
    cr_expect_eq(pgtest_query_int(pgtest_conninfo(), "SHOW max_connections"), 200);
    cr_expect_eq(pgtest_query_int(pgtest_conninfo(), "SELECT count(*) FROM pg_settings "
                                                     "WHERE name = 'fsync' AND setting = 'on'"),
                 1);
}

Test(harness, create_db_gives_distinct_isolated_databases)
{
    char *a = pgtest_create_db("harness");
    char *b = pgtest_create_db("harness");
    cr_assert_not_null(a);
    cr_assert_not_null(b);

    char *name_a = current_database(a);
    char *name_b = current_database(b);
    cr_expect_str_neq(name_a, name_b);
    cr_expect_eq(strncmp(name_a, "t_harness_", 10), 0, "unexpected name %s", name_a);

    /* A table made in one database must not be visible in the other. */
    cr_assert_eq(pgtest_exec(a, "CREATE TABLE only_in_a (x int)"), 0);
    const char *count = "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'";
    cr_expect_eq(pgtest_query_int(a, count), 1);
    cr_expect_eq(pgtest_query_int(b, count), 0);

    free(name_a);
    free(name_b);
    free(a);
    free(b);
}

Test(harness, create_db_sanitises_the_prefix)
{
    char *ci = pgtest_create_db("Odd name'; DROP DATABASE postgres; --");
    cr_assert_not_null(ci);
    char *name = current_database(ci);
    for (const char *p = name; *p != '\0'; p++)
        cr_expect(strchr("abcdefghijklmnopqrstuvwxyz0123456789_", *p) != NULL,
                  "database name %s has %c", name, *p);
    free(name);
    free(ci);
}

Test(harness, exec_reports_sql_errors)
{
    cr_expect_neq(pgtest_exec(pgtest_conninfo(), "SELECT * FROM no_such_table"), 0);
    cr_expect_neq(pgtest_exec("host=/nonexistent port=1 dbname=x connect_timeout=2", "SELECT 1"),
                  0);
}

Test(harness, restart_restarts_the_server_and_keeps_committed_data)
{
    char *db = pgtest_create_db("restart");
    cr_assert_not_null(db);
    cr_assert_eq(pgtest_exec(db, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)"), 0);
    const char *started = "SELECT (extract(epoch FROM pg_postmaster_start_time()) * 1e6)::bigint";
    long long before = pgtest_query_int(db, started);

    /* A connection open across the restart must break: the server really went away. */
    PGconn *held = pgtest_connect(db);
    cr_assert_not_null(held);

    cr_assert_eq(pgtest_restart(), 0);

    PGresult *res = PQexec(held, "SELECT 1");
    cr_expect_neq(PQresultStatus(res), PGRES_TUPLES_OK, "old connection survived a restart");
    PQclear(res);
    PQfinish(held);

    cr_expect_gt(pgtest_query_int(db, started), before);
    cr_expect_eq(pgtest_query_int(db, "SELECT x FROM kept"), 42);
    free(db);
}

Test(harness, stop_then_start)
{
    cr_assert_eq(pgtest_stop(), 0);
    PGconn *conn = PQconnectdb(pgtest_conninfo());
    cr_expect_neq(PQstatus(conn), CONNECTION_OK, "connected to a stopped server");
    PQfinish(conn);
    cr_assert_eq(pgtest_start(), 0);
    cr_expect_eq(pgtest_query_int(pgtest_conninfo(), "SELECT 1"), 1);
}
