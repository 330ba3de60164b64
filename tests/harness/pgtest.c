/*
 * pgtest: per-test databases, one-shot SQL and pg_ctl control of the harness's cluster.
 * Kept deliberately simple (a new connection per call): clarity matters more than speed here.
 */
#include "pgtest.h"

#include <criterion/criterion.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Longest prefix kept in a database name; PostgreSQL names stop at 63 bytes. */
#define PGTEST_PREFIX_MAX 32
/* How often pgtest_create_db tries another name when one is already taken. */
#define PGTEST_CREATE_TRIES 100

/* Read a harness variable; fail the test with a pointer to the harness when it is missing. */
static const char *pgtest_env(const char *name)
{
    const char *value = getenv(name);

    if (value == NULL || value[0] == '\0')
        cr_assert_fail("%s is not set: run this test through tests/harness/with-postgres "
                       "(register it with test(..., pg_wrapper, args: [exe, ...]))",
                       name);
    return value;
}

const char *pgtest_conninfo(void)
{
    return pgtest_env("RESEOLIO_TEST_PG");
}

PGconn *pgtest_connect(const char *conninfo)
{
    PGconn *conn = PQconnectdb(conninfo);

    if (conn == NULL) {
        fprintf(stderr, "pgtest: out of memory connecting to PostgreSQL\n");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "pgtest: cannot connect (%s): %s", conninfo, PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

int pgtest_exec(const char *conninfo, const char *sql)
{
    PGconn *conn = pgtest_connect(conninfo);
    PGresult *res;
    int status = -1;

    if (conn == NULL)
        return -1;
    res = PQexec(conn, sql);
    switch (PQresultStatus(res)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
        status = 0;
        break;
    default:
        fprintf(stderr, "pgtest: SQL failed: %s\n  in: %s\n", PQerrorMessage(conn), sql);
        break;
    }
    PQclear(res);
    PQfinish(conn);
    return status;
}

long long pgtest_query_int(const char *conninfo, const char *sql)
{
    char why[512] = "";
    long long value = 0;
    PGconn *conn = pgtest_connect(conninfo);
    PGresult *res;

    if (conn == NULL)
        cr_assert_fail("pgtest_query_int: cannot connect for: %s", sql);
    res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(why, sizeof(why), "%s", PQerrorMessage(conn));
    } else if (PQntuples(res) != 1 || PQnfields(res) != 1) {
        snprintf(why, sizeof(why), "expected 1 row x 1 column, got %d x %d", PQntuples(res),
                 PQnfields(res));
    } else if (PQgetisnull(res, 0, 0)) {
        snprintf(why, sizeof(why), "the value is NULL");
    } else {
        const char *text = PQgetvalue(res, 0, 0);
        char *end;

        errno = 0;
        value = strtoll(text, &end, 10);
        if (errno != 0 || end == text || *end != '\0')
            snprintf(why, sizeof(why), "'%s' is not an integer", text);
    }
    /* Free before failing: a failed assertion leaves the test, and ASan would report leaks. */
    PQclear(res);
    PQfinish(conn);
    if (why[0] != '\0')
        cr_assert_fail("pgtest_query_int: %s\n  in: %s", why, sql);
    return value;
}

/* Append a libpq conninfo value to buf, single-quoted with \ and ' escaped. */
static int pgtest_append_quoted(char *buf, size_t size, size_t *len, const char *key,
                                const char *value)
{
    int n = snprintf(buf + *len, size - *len, "%s%s='", *len > 0 ? " " : "", key);

    if (n < 0 || (size_t)n >= size - *len)
        return -1;
    *len += (size_t)n;
    for (; *value != '\0'; value++) {
        if (*len + 3 >= size)
            return -1;
        if (*value == '\\' || *value == '\'')
            buf[(*len)++] = '\\';
        buf[(*len)++] = *value;
    }
    buf[(*len)++] = '\'';
    buf[*len] = '\0';
    return 0;
}

/* The admin conninfo with dbname replaced; malloc'ed, NULL on failure. Rebuilt from the parsed
 * options rather than appended to, so the result never depends on duplicate-key rules. */
static char *pgtest_conninfo_for(const char *dbname)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(pgtest_conninfo(), &err);
    size_t size = 1024, len = 0;
    char *buf;
    int failed = 0;

    if (opts == NULL) {
        fprintf(stderr, "pgtest: bad RESEOLIO_TEST_PG: %s", err != NULL ? err : "out of memory");
        PQfreemem(err);
        return NULL;
    }
    buf = malloc(size);
    if (buf == NULL) {
        PQconninfoFree(opts);
        return NULL;
    }
    buf[0] = '\0';
    for (PQconninfoOption *o = opts; o->keyword != NULL && !failed; o++) {
        if (strcmp(o->keyword, "dbname") == 0)
            failed = pgtest_append_quoted(buf, size, &len, o->keyword, dbname) != 0;
        else if (o->val != NULL)
            failed = pgtest_append_quoted(buf, size, &len, o->keyword, o->val) != 0;
    }
    PQconninfoFree(opts);
    if (failed) {
        fprintf(stderr, "pgtest: conninfo longer than %zu bytes\n", size);
        free(buf);
        return NULL;
    }
    return buf;
}

char *pgtest_create_db(const char *prefix)
{
    static unsigned counter;
    char name[64], stem[PGTEST_PREFIX_MAX + 1];
    size_t n = 0;
    PGconn *conn = pgtest_connect(pgtest_conninfo());

    if (conn == NULL)
        return NULL;
    /* Names are folded to [a-z0-9_] so a test's database is easy to spot in psql. */
    for (; prefix != NULL && prefix[n] != '\0' && n < PGTEST_PREFIX_MAX; n++) {
        unsigned char c = (unsigned char)prefix[n];
        stem[n] = isalnum(c) ? (char)tolower(c) : '_';
    }
    stem[n] = '\0';

    /* pid + counter is unique among live test processes; a name left by an earlier process
     * with the same pid is skipped by trying the next counter value. */
    for (int tries = 0; tries < PGTEST_CREATE_TRIES; tries++) {
        char *quoted, *sql;
        PGresult *res;
        int ok, taken;

        snprintf(name, sizeof(name), "t_%s_%ld_%u", stem, (long)getpid(), counter++);
        quoted = PQescapeIdentifier(conn, name, strlen(name));
        if (quoted == NULL || asprintf(&sql, "CREATE DATABASE %s", quoted) < 0) {
            fprintf(stderr, "pgtest: out of memory creating database %s\n", name);
            PQfreemem(quoted);
            PQfinish(conn);
            return NULL;
        }
        res = PQexec(conn, sql);
        ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        taken = !ok && PQresultErrorField(res, PG_DIAG_SQLSTATE) != NULL &&
                strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE), "42P04") == 0;
        if (!ok && !taken)
            fprintf(stderr, "pgtest: %s failed: %s", sql, PQerrorMessage(conn));
        PQclear(res);
        free(sql);
        PQfreemem(quoted);
        if (ok) {
            PQfinish(conn);
            return pgtest_conninfo_for(name);
        }
        if (!taken)
            break;
    }
    PQfinish(conn);
    return NULL;
}

/* Run pg_ctl ACTION against the harness's data directory, as the cluster's owner, and wait. */
static int pgtest_pg_ctl(const char *action, const char *mode)
{
    const char *pgdata = pgtest_env("RESEOLIO_TEST_PGDATA");
    const char *pgbin = pgtest_env("RESEOLIO_TEST_PGBIN");
    const char *pglog = pgtest_env("RESEOLIO_TEST_PGLOG");
    const char *runas = getenv("RESEOLIO_TEST_PGRUNAS");
    char pg_ctl[4096];
    const char *argv[16];
    int argc = 0, wstatus;
    pid_t pid;

    if ((size_t)snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", pgbin) >= sizeof(pg_ctl))
        return -1;
    /* PostgreSQL will not run as root; the harness says which user owns the cluster. */
    if (runas != NULL && runas[0] != '\0') {
        argv[argc++] = "runuser";
        argv[argc++] = "-u";
        argv[argc++] = runas;
        argv[argc++] = "--";
    }
    argv[argc++] = pg_ctl;
    argv[argc++] = action;
    argv[argc++] = "-D";
    argv[argc++] = pgdata;
    argv[argc++] = "-w";
    argv[argc++] = "-t";
    argv[argc++] = "60";
    if (mode != NULL) {
        argv[argc++] = "-m";
        argv[argc++] = mode;
    }
    if (strcmp(action, "start") == 0) {
        argv[argc++] = "-l";
        argv[argc++] = pglog;
    }
    argv[argc] = NULL;

    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "pgtest: fork for pg_ctl %s: %s\n", action, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* The postmaster inherits what pg_ctl has: give it no pipe or socket of the test
         * runner's, or the runner could wait for an EOF that the server holds back. */
        int devnull = open("/dev/null", O_RDWR);

        if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(2, 1) < 0)
            _exit(127);
        /* The test's cwd may be closed to the cluster's owner; pg_ctl complains about that. */
        if (chdir("/") != 0)
            _exit(127);
        close_range(3, ~0U, 0);
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "pgtest: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    while (waitpid(pid, &wstatus, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "pgtest: waitpid for pg_ctl %s: %s\n", action, strerror(errno));
            return -1;
        }
    }
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
        fprintf(stderr, "pgtest: pg_ctl %s failed (status 0x%x); server log: %s\n", action,
                (unsigned)wstatus, pglog);
        return -1;
    }
    return 0;
}

int pgtest_stop(void)
{
    return pgtest_pg_ctl("stop", "immediate");
}

int pgtest_start(void)
{
    return pgtest_pg_ctl("start", NULL);
}

int pgtest_restart(void)
{
    if (pgtest_stop() != 0)
        return -1;
    return pgtest_start();
}
