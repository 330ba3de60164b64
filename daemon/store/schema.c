/*
 * schema: migrations compiled in by embed-sql, applied at start in one transaction.
 * The schema name comes from the configuration, is validated, and is always quoted.
 */
#include "schema.h"

#include "store-migrations.h"

#include <libpq-fe.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Advisory lock taken for the whole migration transaction: the bytes of "reseolio". One key
 * for every schema of a database: migrations are rare and short, so sharing it costs nothing. */
#define SCHEMA_LOCK_KEY "8243121572469827951"

/* PostgreSQL 14 brought SQL-standard function bodies (RETURN ...) that 001_init.sql uses. */
#define SCHEMA_MIN_SERVER 140000

bool schema_name_valid(const char *name)
{
    size_t len;

    if (name == NULL || !((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
        return false;
    for (len = 1; name[len] != '\0'; len++) {
        char c = name[len];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return len <= 63;
}

int schema_version_known(void)
{
    return store_migrations[store_migrations_count - 1].version;
}

/* printf into err. */
__attribute__((format(printf, 3, 4))) static void schema_err(char *err, size_t errlen,
                                                             const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Drop the trailing newline libpq puts on its messages. */
static const char *schema_pqmsg(PGconn *conn, char *buf, size_t size)
{
    size_t len;

    snprintf(buf, size, "%s", PQerrorMessage(conn));
    len = strlen(buf);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
        buf[--len] = '\0';
    return buf;
}

/* Run one command with optional text parameters; on failure fill err and return -1. When out is
 * not NULL the result is handed to the caller (who PQclears it) instead of being freed. */
static int schema_run(PGconn *conn, const char *what, const char *sql, int nparams,
                      const char *const *params, PGresult **out, char *err, size_t errlen)
{
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    char msg[512];

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        schema_err(err, errlen, "%s failed: %s", what, schema_pqmsg(conn, msg, sizeof(msg)));
        PQclear(res);
        return -1;
    }
    if (out != NULL)
        *out = res;
    else
        PQclear(res);
    return 0;
}

/* Discard NOTICEs ("schema ... already exists, skipping"): they are expected, not news. */
static void schema_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* The migration transaction proper; the caller rolls back when this fails. */
static int schema_apply(PGconn *conn, const char *quoted, int *version, char *err, size_t errlen)
{
    char *create = NULL;
    PGresult *res = NULL;
    int current, known = schema_version_known();
    const char *params[2];
    char vbuf[16];

    if (schema_run(conn, "BEGIN", "BEGIN", 0, NULL, NULL, err, errlen) != 0 ||
        schema_run(conn, "taking the migration lock",
                   "SELECT pg_catalog.pg_advisory_xact_lock(" SCHEMA_LOCK_KEY ")", 0, NULL, NULL,
                   err, errlen) != 0)
        return -1;
    if (asprintf(&create, "CREATE SCHEMA IF NOT EXISTS %s", quoted) < 0) {
        schema_err(err, errlen, "out of memory");
        return -1;
    }
    params[0] = quoted;
    if (schema_run(conn, "CREATE SCHEMA", create, 0, NULL, NULL, err, errlen) != 0 ||
        schema_run(conn, "setting search_path",
                   "SELECT pg_catalog.set_config('search_path', $1, true)", 1, params, NULL, err,
                   errlen) != 0 ||
        schema_run(conn, "creating schema_migrations",
                   "CREATE TABLE IF NOT EXISTS schema_migrations ("
                   " version integer PRIMARY KEY,"
                   " name text NOT NULL,"
                   " applied_at timestamptz(3) NOT NULL DEFAULT now())",
                   0, NULL, NULL, err, errlen) != 0 ||
        schema_run(conn, "reading the schema version",
                   "SELECT coalesce(max(version), 0) FROM schema_migrations", 0, NULL, &res, err,
                   errlen) != 0) {
        free(create);
        return -1;
    }
    free(create);
    current = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);

    if (current > known) {
        schema_err(err, errlen,
                   "schema %s is at version %d, newer than this reseoliod knows (%d): a newer "
                   "reseoliod upgraded it; run that version (downgrading is not supported)",
                   quoted, current, known);
        return -1;
    }
    for (size_t i = 0; i < store_migrations_count; i++) {
        const struct store_migration *m = &store_migrations[i];
        PGresult *r;
        char msg[512];

        if (m->version <= current)
            continue;
        /* A migration is a script of several statements: the simple protocol runs them all,
         * inside our transaction block. */
        r = PQexec(conn, m->sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
            schema_err(err, errlen, "migration %03d_%s failed: %s", m->version, m->name,
                       schema_pqmsg(conn, msg, sizeof(msg)));
            PQclear(r);
            return -1;
        }
        PQclear(r);
        snprintf(vbuf, sizeof(vbuf), "%d", m->version);
        params[0] = vbuf;
        params[1] = m->name;
        if (schema_run(conn, "recording the migration",
                       "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2, params,
                       NULL, err, errlen) != 0)
            return -1;
        current = m->version;
    }
    if (schema_run(conn, "COMMIT", "COMMIT", 0, NULL, NULL, err, errlen) != 0)
        return -1;
    if (version != NULL)
        *version = current;
    return 0;
}

int schema_migrate(const char *conninfo, const char *name, int *version, char *err, size_t errlen)
{
    PGconn *conn;
    char *quoted;
    char msg[512];
    int status;

    if (!schema_name_valid(name)) {
        schema_err(err, errlen,
                   "invalid schema name (want 1-63 characters of a-z, 0-9 and _, not starting "
                   "with a digit)");
        return -1;
    }
    conn = PQconnectdb(conninfo);
    if (conn == NULL) {
        schema_err(err, errlen, "out of memory connecting to PostgreSQL");
        return -1;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        schema_err(err, errlen, "cannot connect to PostgreSQL: %s",
                   schema_pqmsg(conn, msg, sizeof(msg)));
        PQfinish(conn);
        return -1;
    }
    if (PQserverVersion(conn) < SCHEMA_MIN_SERVER) {
        schema_err(err, errlen, "PostgreSQL %d is too old: reseoliod needs 14 or newer",
                   PQserverVersion(conn) / 10000);
        PQfinish(conn);
        return -1;
    }
    PQsetNoticeProcessor(conn, schema_quiet, NULL);
    quoted = PQescapeIdentifier(conn, name, strlen(name));
    if (quoted == NULL) {
        schema_err(err, errlen, "cannot quote the schema name: %s",
                   schema_pqmsg(conn, msg, sizeof(msg)));
        PQfinish(conn);
        return -1;
    }
    status = schema_apply(conn, quoted, version, err, errlen);
    PQfreemem(quoted);
    /* On failure the transaction (if any) dies with the connection: nothing half-applied. */
    PQfinish(conn);
    return status;
}
