/*
 * pgconn against a real PostgreSQL: batches are transactions, a failed batch does not harm the
 * next, callbacks fire once each, and the connection survives its backend being terminated
 * (in-flight requests fail, waiting ones go out after the reconnect, LISTEN is re-armed).
 */
#include "pgconn.h"
#include "pgtest.h"

#include <criterion/criterion.h>
#include <event2/event.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct pgconn_prep preps[] = {
    {"ins", "INSERT INTO t (v) VALUES ($1::int)", 0, NULL},
    {"count", "SELECT count(*) FROM t", 0, NULL},
    {"lock", "SELECT pg_advisory_lock($1::int8)", 0, NULL},
    {"echo", "SELECT $1::bytea", 0, NULL},
    {"setting", "SELECT current_setting($1)", 0, NULL},
};

/* One test's connection and what its callbacks saw. */
struct fx {
    struct event_base *base;
    char *db;
    struct pgconn *c;
    int readies;
    int reconnects;
    int downs;
    char payload[64];
    int notifies;
};

/* What one statement's callback saw. */
struct seen {
    int calls;
    bool ok;
    bool had_res;
    char err[512];
    char sqlstate[6];
    char value[64];
    struct fx *fx;
    bool free_conn;  /* call pgconn_free inside the callback */
    bool submit_ins; /* submit another insert inside the callback */
    struct seen *then;
};

static bool in_submit;

static void on_ready(void *arg, bool reconnect)
{
    struct fx *fx = arg;

    fx->readies++;
    fx->reconnects += reconnect;
}

static void on_down(void *arg, const char *why)
{
    struct fx *fx = arg;

    (void)why;
    fx->downs++;
}

static void on_notify(void *arg, const char *channel, const char *payload)
{
    struct fx *fx = arg;

    cr_assert_str_eq(channel, "chan");
    snprintf(fx->payload, sizeof(fx->payload), "%s", payload);
    fx->notifies++;
}

static void fx_open(struct fx *fx, const char *prefix, const char *conninfo, size_t max_queue,
                    bool listen)
{
    static const char *const channels[] = {"chan"};
    struct pgconn_config cfg = {
        .preps = preps,
        .npreps = sizeof(preps) / sizeof(preps[0]),
        .channels = listen ? channels : NULL,
        .nchannels = listen ? 1 : 0,
        .max_queue = max_queue,
        .on_ready = on_ready,
        .on_down = on_down,
        .on_notify = on_notify,
    };

    memset(fx, 0, sizeof(*fx));
    fx->base = event_base_new();
    cr_assert_not_null(fx->base);
    if (conninfo == NULL) {
        fx->db = pgtest_create_db(prefix);
        cr_assert_not_null(fx->db);
        cr_assert_eq(pgtest_exec(fx->db, "CREATE TABLE t (v int PRIMARY KEY)"), 0);
        conninfo = fx->db;
    }
    cfg.conninfo = conninfo;
    cfg.arg = fx;
    fx->c = pgconn_new(fx->base, &cfg);
    cr_assert_not_null(fx->c);
}

static void fx_close(struct fx *fx)
{
    pgconn_free(fx->c);
    event_base_free(fx->base);
    free(fx->db);
}

/* Run the loop until *counter reaches at least n. */
static void fx_until(struct fx *fx, const int *counter, int n)
{
    while (*counter < n)
        cr_assert_geq(event_base_loop(fx->base, EVLOOP_ONCE), 0);
}

static void seen_cb(void *arg, PGresult *res, const char *err);

static struct pgconn_stmt stmt(const char *name, const char *param, struct seen *s)
{
    static const char *values[64];
    static int next;
    struct pgconn_stmt st = {.name = name, .cb = seen_cb, .arg = s};

    if (param != NULL) {
        values[next % 64] = param;
        st.nparams = 1;
        st.values = &values[next % 64];
        next++;
    }
    return st;
}

static enum pgconn_status submit(struct pgconn *c, struct pgconn_stmt *stmts, size_t n)
{
    enum pgconn_status st;

    in_submit = true;
    st = pgconn_submit(c, stmts, n);
    in_submit = false;
    return st;
}

static void seen_cb(void *arg, PGresult *res, const char *err)
{
    struct seen *s = arg;

    cr_assert_not(in_submit, "a callback fired inside pgconn_submit");
    s->calls++;
    s->ok = err == NULL;
    s->had_res = res != NULL;
    snprintf(s->err, sizeof(s->err), "%s", err != NULL ? err : "");
    if (res != NULL && PQresultErrorField(res, PG_DIAG_SQLSTATE) != NULL)
        snprintf(s->sqlstate, sizeof(s->sqlstate), "%s", PQresultErrorField(res, PG_DIAG_SQLSTATE));
    if (err == NULL && PQntuples(res) > 0)
        snprintf(s->value, sizeof(s->value), "%s", PQgetvalue(res, 0, 0));
    if (s->free_conn)
        pgconn_free(s->fx->c);
    if (s->submit_ins) {
        struct pgconn_stmt st = stmt("ins", "100", s->then);

        cr_assert_eq(submit(s->fx->c, &st, 1), PGCONN_OK);
    }
}

Test(pgconn, batch_is_one_transaction)
{
    struct fx fx;
    struct seen a = {0}, b = {0}, c = {0}, d = {0}, e = {0}, n = {0};
    struct pgconn_stmt ok[2], bad[3], after[1], count[1];

    fx_open(&fx, "pgconn_batch", NULL, 0, false);
    ok[0] = stmt("ins", "1", &a);
    ok[1] = stmt("ins", "2", &a);
    cr_assert_eq(submit(fx.c, ok, 2), PGCONN_OK);
    fx_until(&fx, &a.calls, 2);
    cr_assert(a.ok, "%s", a.err);

    /* 3 goes in, 1 collides, 4 is never run: nothing of the batch stays. The batch pipelined
     * right behind it must not be harmed. */
    bad[0] = stmt("ins", "3", &b);
    bad[1] = stmt("ins", "1", &c);
    bad[2] = stmt("ins", "4", &d);
    after[0] = stmt("ins", "5", &e);
    cr_assert_eq(submit(fx.c, bad, 3), PGCONN_OK);
    cr_assert_eq(submit(fx.c, after, 1), PGCONN_OK);
    fx_until(&fx, &e.calls, 1);
    cr_assert_eq(b.calls, 1);
    cr_assert_eq(c.calls, 1);
    cr_assert_eq(d.calls, 1);
    cr_assert_not(b.ok);
    cr_assert(strstr(b.err, "rolled back") != NULL, "%s", b.err);
    cr_assert_not(c.ok);
    cr_assert_str_eq(c.sqlstate, "23505");
    cr_assert_not(d.ok);
    cr_assert(strstr(d.err, "not run") != NULL, "%s", d.err);
    cr_assert(e.ok, "the next batch failed too: %s", e.err);

    count[0] = stmt("count", NULL, &n);
    cr_assert_eq(submit(fx.c, count, 1), PGCONN_OK);
    fx_until(&fx, &n.calls, 1);
    cr_assert_str_eq(n.value, "3"); /* 1, 2, 5 */
    cr_assert_eq(pgconn_pending(fx.c), 0);
    fx_close(&fx);
}

Test(pgconn, binary_parameters)
{
    struct fx fx;
    struct seen s = {0};
    static const char bytes[] = {'a', 0, '\'', ';', (char)0xff};
    const char *values[1] = {bytes};
    const int lengths[1] = {sizeof(bytes)};
    const int formats[1] = {1};
    struct pgconn_stmt st = {.name = "echo",
                             .nparams = 1,
                             .values = values,
                             .lengths = lengths,
                             .formats = formats,
                             .result_format = 0,
                             .cb = seen_cb,
                             .arg = &s};

    fx_open(&fx, "pgconn_binary", NULL, 0, false);
    cr_assert_eq(submit(fx.c, &st, 1), PGCONN_OK);
    fx_until(&fx, &s.calls, 1);
    cr_assert(s.ok, "%s", s.err);
    cr_assert_str_eq(s.value, "\\x6100273bff");
    fx_close(&fx);
}

/* The backend is terminated while a statement waits on a lock: that statement fails (in
 * doubt), a statement submitted while the connection is down waits and succeeds after the
 * reconnect, and so does everything after. */
Test(pgconn, survives_terminated_backend)
{
    struct fx fx;
    struct seen locked = {0}, queued = {0}, later = {0};
    struct pgconn_stmt st;
    PGconn *holder;
    PGresult *res;
    char sql[128];
    int pid;

    fx_open(&fx, "pgconn_terminate", NULL, 0, false);
    fx_until(&fx, &fx.readies, 1);
    holder = pgtest_connect(fx.db);
    cr_assert_not_null(holder);
    res = PQexec(holder, "SELECT pg_advisory_lock(42)");
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK);
    PQclear(res);

    locked.fx = &fx;
    locked.submit_ins = true; /* submitted while down: must wait, then succeed */
    locked.then = &queued;
    st = stmt("lock", "42", &locked);
    cr_assert_eq(submit(fx.c, &st, 1), PGCONN_OK);
    pid = pgconn_backend_pid(fx.c);
    cr_assert_gt(pid, 0);
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", pid);
    res = PQexec(holder, sql);
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK);
    PQclear(res);

    fx_until(&fx, &locked.calls, 1);
    cr_assert_not(locked.ok);
    cr_assert_not(locked.had_res);
    cr_assert(strncmp(locked.err, PGCONN_IN_DOUBT, strlen(PGCONN_IN_DOUBT)) == 0, "%s", locked.err);
    cr_assert(pgconn_retryable(NULL));
    cr_assert_geq(fx.downs, 1);

    fx_until(&fx, &queued.calls, 1);
    cr_assert(queued.ok, "%s", queued.err);
    cr_assert_eq(fx.reconnects, 1);
    cr_assert_neq(pgconn_backend_pid(fx.c), pid);

    st = stmt("count", NULL, &later);
    cr_assert_eq(submit(fx.c, &st, 1), PGCONN_OK);
    fx_until(&fx, &later.calls, 1);
    cr_assert(later.ok, "%s", later.err);
    cr_assert_str_eq(later.value, "1");
    PQfinish(holder);
    fx_close(&fx);
}

Test(pgconn, listen_rearmed_after_reconnect)
{
    struct fx fx;
    char sql[128];

    fx_open(&fx, "pgconn_listen", NULL, 0, true);
    fx_until(&fx, &fx.readies, 1);
    cr_assert_eq(pgtest_exec(fx.db, "NOTIFY chan, 'one'"), 0);
    fx_until(&fx, &fx.notifies, 1);
    cr_assert_str_eq(fx.payload, "one");

    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", pgconn_backend_pid(fx.c));
    cr_assert_eq(pgtest_exec(fx.db, sql), 0);
    fx_until(&fx, &fx.reconnects, 1);
    cr_assert_eq(pgtest_exec(fx.db, "NOTIFY chan, 'two'"), 0);
    fx_until(&fx, &fx.notifies, 2);
    cr_assert_str_eq(fx.payload, "two");
    fx_close(&fx);
}

/* Down from the start: requests wait in the bounded queue, the one too many is refused at
 * once without a callback, and the owner can fail the waiting ones. */
Test(pgconn, bounded_queue_while_down)
{
    struct fx fx;
    struct seen s = {0}, refused = {0};
    struct pgconn_stmt two[2], one[1];

    fx_open(&fx, NULL, "host=/nonexistent/reseolio port=1 dbname=x connect_timeout=1", 4, false);
    two[0] = stmt("count", NULL, &s);
    two[1] = stmt("count", NULL, &s);
    cr_assert_eq(submit(fx.c, two, 2), PGCONN_OK);
    cr_assert_eq(submit(fx.c, two, 2), PGCONN_OK);
    one[0] = stmt("count", NULL, &refused);
    cr_assert_eq(submit(fx.c, one, 1), PGCONN_FULL);
    cr_assert_eq(pgconn_pending(fx.c), 4);
    fx_until(&fx, &fx.downs, 2); /* a failed attempt, then a retry after the backoff */
    cr_assert_eq(s.calls, 0, "waiting requests must survive failed connection attempts");
    pgconn_fail_waiting(fx.c, "unavailable");
    cr_assert_eq(s.calls, 4);
    cr_assert_str_eq(s.err, "unavailable");
    cr_assert_eq(refused.calls, 0);
    cr_assert_eq(pgconn_pending(fx.c), 0);
    fx_close(&fx);
}

/* pgconn_free inside a callback: takes effect after it; every other request is answered
 * exactly once, with an error. */
Test(pgconn, free_inside_callback)
{
    struct fx fx;
    struct seen first = {0}, second = {0};
    struct pgconn_stmt a[1], b[1];

    fx_open(&fx, "pgconn_free", NULL, 0, false);
    first.fx = &fx;
    first.free_conn = true;
    a[0] = stmt("count", NULL, &first);
    b[0] = stmt("lock", "7", &second);
    cr_assert_eq(submit(fx.c, a, 1), PGCONN_OK);
    cr_assert_eq(submit(fx.c, b, 1), PGCONN_OK);
    fx_until(&fx, &first.calls, 1);
    cr_assert_eq(second.calls, 1); /* with its result, or with "closed" */
    fx.c = NULL;
    fx_close(&fx);
    cr_assert_eq(first.calls, 1);
    cr_assert_eq(second.calls, 1);
}

/* Our conninfo defaults apply unless the user's string sets the same keyword. */
Test(pgconn, conninfo_defaults_yield_to_the_user)
{
    struct fx fx, mine;
    struct seen app = {0}, app2 = {0}, iso = {0};
    struct pgconn_stmt st;
    char *custom;

    fx_open(&fx, "pgconn_defaults", NULL, 0, false);
    st = stmt("setting", "application_name", &app);
    cr_assert_eq(submit(fx.c, &st, 1), PGCONN_OK);
    st = stmt("setting", "default_transaction_isolation", &iso);
    cr_assert_eq(submit(fx.c, &st, 1), PGCONN_OK);
    fx_until(&fx, &iso.calls, 1);
    cr_assert_str_eq(app.value, "reseoliod");
    cr_assert_str_eq(iso.value, "read committed");

    cr_assert_neq(asprintf(&custom, "%s application_name=myapp", fx.db), -1);
    fx_open(&mine, NULL, custom, 0, false);
    st = stmt("setting", "application_name", &app2);
    cr_assert_eq(submit(mine.c, &st, 1), PGCONN_OK);
    fx_until(&mine, &app2.calls, 1);
    cr_assert_str_eq(app2.value, "myapp");
    fx_close(&mine);
    free(custom);
    fx_close(&fx);
}
