/*
 * Schema migrations against a real PostgreSQL: they apply, are idempotent, are safe when two
 * daemons start at once, and a daemon refuses a schema newer than it knows.
 */
#include "pgtest.h"
#include "schema.h"

#include <criterion/criterion.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

Test(schema, names)
{
    cr_assert(schema_name_valid("reseolio"));
    cr_assert(schema_name_valid("_x9"));
    cr_assert(schema_name_valid("a23456789012345678901234567890123456789012345678901234567890123"));
    cr_assert_not(
        schema_name_valid("a234567890123456789012345678901234567890123456789012345678901234"));
    cr_assert_not(schema_name_valid(""));
    cr_assert_not(schema_name_valid("9abc"));
    cr_assert_not(schema_name_valid("Reseolio"));
    cr_assert_not(schema_name_valid("a-b"));
    cr_assert_not(schema_name_valid("x\"; DROP SCHEMA public; --"));
    cr_assert_not(schema_name_valid(NULL));
}

Test(schema, applies_and_is_idempotent)
{
    char *db = pgtest_create_db("schema_apply");
    char err[512];
    int v1 = -1, v2 = -1;

    cr_assert_not_null(db);
    cr_assert_eq(schema_migrate(db, "reseolio", &v1, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(v1, schema_version_known());
    cr_assert_eq(pgtest_query_int(db, "SELECT count(*) FROM reseolio.schema_migrations"),
                 schema_version_known());
    cr_assert_eq(pgtest_query_int(db, "SELECT count(*) FROM reseolio.jobs"), 0);
    cr_assert_eq(pgtest_query_int(db, "SELECT count(*) FROM pg_indexes WHERE schemaname = "
                                      "'reseolio' AND tablename = 'jobs'"),
                 7,
                 "jobs should have 7 indexes: pkey, pending, idem, running, parent, "
                 "pending_steps, finished");
    /* The queue table carries its own autovacuum settings. */
    cr_assert_eq(pgtest_query_int(db, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON"
                                      " n.oid = c.relnamespace WHERE n.nspname = 'reseolio'"
                                      " AND c.relname = 'jobs' AND"
                                      " 'autovacuum_vacuum_scale_factor=0.01' = ANY(c.reloptions)"),
                 1);

    cr_assert_eq(schema_migrate(db, "reseolio", &v2, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(v2, v1);
    cr_assert_eq(pgtest_query_int(db, "SELECT count(*) FROM reseolio.schema_migrations"),
                 schema_version_known());
    free(db);
}

Test(schema, custom_schema_is_separate)
{
    char *db = pgtest_create_db("schema_custom");
    char err[512];

    cr_assert_not_null(db);
    cr_assert_eq(schema_migrate(db, "tenant_a", NULL, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(schema_migrate(db, "tenant_b", NULL, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(pgtest_exec(db, "INSERT INTO tenant_a.jobs (name, run_at, created_at)"
                                 " VALUES ('f', now(), now())"),
                 0);
    cr_assert_eq(pgtest_query_int(db, "SELECT count(*) FROM tenant_a.jobs"), 1);
    cr_assert_eq(pgtest_query_int(db, "SELECT count(*) FROM tenant_b.jobs"), 0);
    /* Nothing leaked into public. */
    cr_assert_eq(pgtest_query_int(db, "SELECT count(*) FROM pg_tables WHERE schemaname = "
                                      "'public'"),
                 0);
    free(db);
}

Test(schema, invalid_name_refused)
{
    char *db = pgtest_create_db("schema_badname");
    char err[512] = "";

    cr_assert_not_null(db);
    cr_assert_eq(schema_migrate(db, "x\"; DROP TABLE y; --", NULL, err, sizeof(err)), -1);
    cr_assert(strstr(err, "invalid schema name") != NULL, "%s", err);
    free(db);
}

Test(schema, newer_version_refused)
{
    char *db = pgtest_create_db("schema_newer");
    char err[512] = "";

    cr_assert_not_null(db);
    cr_assert_eq(schema_migrate(db, "reseolio", NULL, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(pgtest_exec(db, "INSERT INTO reseolio.schema_migrations (version, name)"
                                 " VALUES (999, 'from_the_future')"),
                 0);
    cr_assert_eq(schema_migrate(db, "reseolio", NULL, err, sizeof(err)), -1);
    cr_assert(strstr(err, "version 999") != NULL && strstr(err, "newer") != NULL, "%s", err);
    free(db);
}

Test(schema, unreachable_server_error_has_no_password)
{
    char err[512] = "";

    cr_assert_eq(schema_migrate("host=/nonexistent/dir port=1 user=u password=s3cr3t dbname=d",
                                "reseolio", NULL, err, sizeof(err)),
                 -1);
    cr_assert(strstr(err, "cannot connect") != NULL, "%s", err);
    cr_assert(strstr(err, "s3cr3t") == NULL, "%s", err);
}

struct applier {
    const char *db;
    int status;
    int version;
    char err[512];
};

static void *apply_thread(void *arg)
{
    struct applier *a = arg;

    a->status = schema_migrate(a->db, "reseolio", &a->version, a->err, sizeof(a->err));
    return NULL;
}

/* Daemons starting together: the advisory lock serialises them, both succeed, one history. */
Test(schema, concurrent_appliers)
{
    enum { N = 4 };
    char *db = pgtest_create_db("schema_race");
    struct applier a[N];
    pthread_t t[N];

    cr_assert_not_null(db);
    for (int i = 0; i < N; i++) {
        memset(&a[i], 0, sizeof(a[i]));
        a[i].db = db;
        cr_assert_eq(pthread_create(&t[i], NULL, apply_thread, &a[i]), 0);
    }
    for (int i = 0; i < N; i++)
        cr_assert_eq(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(a[i].status, 0, "applier %d: %s", i, a[i].err);
        cr_assert_eq(a[i].version, schema_version_known());
    }
    cr_assert_eq(pgtest_query_int(db, "SELECT count(*) FROM reseolio.schema_migrations"),
                 schema_version_known());
    free(db);
}
