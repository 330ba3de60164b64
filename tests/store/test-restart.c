/*
 * PostgreSQL itself restarts (crash-like, pg_ctl stop -m immediate): the job connection and the
 * listener come back by themselves, requests queued meanwhile go out, nothing committed is lost.
 * Its own binary, run with --jobs 1: stopping the cluster would break any test beside it.
 */
#include "storetest.h"

#include "pgtest.h"
#include "schema.h"

#include <criterion/criterion.h>
#include <event2/event.h>

#include <string.h>

struct waiter {
    bool done;
    struct jobstore_enqueued out;
    char err[256];
    bool failed;
};

static void enqueued_cb(void *arg, const struct jobstore_enqueued *out, size_t n,
                        const struct jobstore_err *err)
{
    struct waiter *w = arg;

    if (err != NULL) {
        w->failed = true;
        snprintf(w->err, sizeof(w->err), "%s", err->message);
    } else {
        cr_assert_eq(n, 1);
        w->out = out[0];
    }
    w->done = true;
}

static int heard;

static void heard_cb(void *arg, const char *channel, const char *payload)
{
    (void)arg;
    (void)channel;
    (void)payload;
    heard++;
}

static int listener_readies;

static void listener_ready(void *arg, bool reconnect)
{
    (void)arg;
    (void)reconnect;
    listener_readies++;
}

Test(restart, postgres_restarts_twice, .timeout = 240)
{
    static const char *const channels[] = {"reseolio"};
    struct storetest st;
    struct pgconn_config cfg = {0};
    struct pgconn *listener;
    int64_t before;

    storetest_begin(&st, "restart");
    cfg.conninfo = st.conninfo;
    cfg.channels = channels;
    cfg.nchannels = 1;
    cfg.on_notify = heard_cb;
    cfg.on_ready = listener_ready;
    listener = pgconn_new(st.base, &cfg);
    cr_assert_not_null(listener);
    while (listener_readies < 1)
        cr_assert_geq(event_base_loop(st.base, EVLOOP_ONCE), 0);
    before = st_enqueue1(&st, "f", "k-before");

    for (int round = 1; round <= 2; round++) {
        struct waiter w = {0};
        struct jobstore_new job;
        int readies = st.readies;

        cr_assert_eq(pgtest_stop(), 0);
        /* The session ends when its socket reports EOF. */
        while (pgconn_ready(st.conn))
            cr_assert_geq(event_base_loop(st.base, EVLOOP_ONCE), 0);
        /* Submitted while PostgreSQL is down: waits for the next session. */
        jobstore_new_defaults(&job, "f", 1);
        cr_assert_eq(jobstore_enqueue(st.conn, (const uint8_t[16]){0}, &job, 1, enqueued_cb, &w),
                     PGCONN_OK);
        cr_assert_eq(pgtest_start(), 0);
        storetest_wait(&st, &w.done);
        cr_assert_not(w.failed, "round %d: %s", round, w.err);
        cr_assert_gt(st.readies, readies);
        /* The listener is back too, and hears the next enqueue. */
        while (listener_readies < round + 1)
            cr_assert_geq(event_base_loop(st.base, EVLOOP_ONCE), 0);
        heard = 0;
        st_enqueue1(&st, "f", NULL);
        while (heard < 1)
            cr_assert_geq(event_base_loop(st.base, EVLOOP_ONCE), 0);
    }
    /* What was committed before the crashes is still there, and its key still holds. */
    cr_assert_eq(st_enqueue1(&st, "f", "k-before"), before);
    cr_assert_eq(st_int(&st, "SELECT count(*) FROM jobs"), 5);
    pgconn_free(listener);
    storetest_end(&st);
}
