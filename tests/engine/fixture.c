/*
 * The engine tests' fixture: a fresh database in the harness's PostgreSQL and the real
 * reseoliod started on it, ready when it says so.
 */
#include "fixture.h"

#include <criterion/criterion.h>
#include <stdlib.h>

#include "pgtest.h"

/* Database, then daemon. */
void fx_start(struct fixture *f, const char *prefix, const char *const *extra)
{
    cr_assert_eq(daemon_proc_init(&f->d), 0);
    f->db = pgtest_create_db(prefix);
    cr_assert_not_null(f->db);
    const char *args[32];
    size_t n = 0;
    args[n++] = "--storage";
    args[n++] = f->db;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 30; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    struct daemon_opts o = {.args = args};
    cr_assert_eq(daemon_proc_start(&f->d, &o), 0, "the daemon did not get ready");
    cr_assert(daemon_proc_wait_log(&f->d, "job engine ready", DAEMON_PROC_TIMEOUT_MS),
              "the job engine did not get ready");
}

/* SIGTERM and clean up. */
int fx_stop(struct fixture *f)
{
    int status = f->d.pid > 0 ? daemon_proc_stop(&f->d) : 0;
    daemon_proc_cleanup(&f->d);
    free(f->db);
    f->db = NULL;
    return status;
}

/* A connected client. */
void fx_client(struct fixture *f, struct ec *c)
{
    cr_assert_eq(ec_open(c, f->d.socket), 0, "cannot connect to the daemon");
}

/* One integer from the database. */
long long fx_int(struct fixture *f, const char *sql)
{
    return pgtest_query_int(f->db, sql);
}
