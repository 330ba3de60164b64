/*
 * libreseolio's session against a fake daemon: replies matched by request id whatever their
 * order, blocking calls that keep other callbacks going, errors as values, the end of a
 * session, a client closed inside its own callback, and the bounds of its queues.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clienttest.h"

/* What a GET callback saw. */
struct got {
    int calls;
    enum rs_client_status status;
    uint64_t job;
    char code[32];
    int order; /* the how-many-th callback of the test it was */
};
static int callback_count;

static void on_reply(struct rs_client *c, const struct rs_reply *r, void *arg)
{
    (void)c;
    struct got *g = arg;
    g->calls++;
    g->status = r->status;
    g->order = ++callback_count;
    if (r->job != NULL)
        g->job = r->job->id;
    if (r->enqueued != NULL)
        g->job = r->enqueued->job;
    if (r->error_code != NULL)
        snprintf(g->code, sizeof(g->code), "%s", r->error_code);
}

/* Three GETs, answered last first. */
static void script_reverse(struct fakepeer *p, void *arg)
{
    (void)arg;
    struct fp_msg m[3];
    for (int i = 0; i < 3; i++)
        if (!fp_expect(p, RS_MSG_GET, &m[i]))
            return;
    for (int i = 2; i >= 0; i--) {
        fp_send_job(p, m[i].m.request_id, m[i].m.u.ref.job, "t:get", RS_STATUS_PENDING);
        fp_msg_free(&m[i]);
    }
    fp_wait_closed(p);
}

Test(session, replies_out_of_order_reach_their_own_callbacks)
{
    struct fakepeer p;
    struct rs_client *c = ct_connect(&p, script_reverse, NULL, 0, 0);
    struct got g[3] = {0};
    callback_count = 0;
    for (int i = 0; i < 3; i++)
        cr_assert_eq(rs_get_async(c, (uint64_t)(100 + i), on_reply, &g[i]), RS_CLIENT_OK);
    cr_expect_eq(g[0].calls + g[1].calls + g[2].calls, 0, "no callback from inside the call");
    cr_assert_eq(ct_pump(c, &callback_count, 3), RS_CLIENT_OK);
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(g[i].calls, 1);
        cr_expect_eq(g[i].status, RS_CLIENT_OK);
        cr_expect_eq(g[i].job, (uint64_t)(100 + i), "callback %d got job %llu", i,
                     (unsigned long long)g[i].job);
        cr_expect_eq(g[i].order, 3 - i, "the last request was answered first");
    }
    rs_client_close(c);
    ct_finish(&p);
}

/* ENQUEUE then GET arrive; ENQUEUED is sent first, JOB second. */
static void script_enqueue_then_get(struct fakepeer *p, void *arg)
{
    (void)arg;
    struct fp_msg e, g;
    if (!fp_expect(p, RS_MSG_ENQUEUE, &e) || !fp_expect(p, RS_MSG_GET, &g))
        return;
    fp_send_enqueued(p, e.m.request_id, 41, false);
    fp_send_job(p, g.m.request_id, 7, "t:get", RS_STATUS_SUCCESS);
    fp_msg_free(&e);
    fp_msg_free(&g);
    fp_wait_closed(p);
}

Test(session, blocking_call_runs_callbacks_of_others_while_it_waits)
{
    struct fakepeer p;
    struct rs_client *c = ct_connect(&p, script_enqueue_then_get, NULL, 0, 0);
    struct got g = {0};
    cr_assert_eq(rs_enqueue_async(c, "t:enq", NULL, 0, NULL, on_reply, &g), RS_CLIENT_OK);
    struct rs_job_info *job = NULL;
    cr_assert_eq(rs_get(c, 7, &job), RS_CLIENT_OK, "%s", rs_client_errmsg(c));
    cr_expect_eq(job->id, 7);
    cr_expect_str_eq(job->name, "t:get");
    cr_expect_eq(job->status, RS_JOB_SUCCESS);
    cr_expect_eq(g.calls, 1, "the ENQUEUED that came first ran its callback during rs_get");
    cr_expect_eq(g.job, 41);
    rs_job_info_free(job);
    rs_client_close(c);
    ct_finish(&p);
}

/* GET → not_found; GET → unavailable (retryable); then PING works. */
static void script_errors(struct fakepeer *p, void *arg)
{
    (void)arg;
    struct fp_msg m;
    if (!fp_expect(p, RS_MSG_GET, &m))
        return;
    fp_send_error(p, m.m.request_id, "not_found", "no job 99", false);
    fp_msg_free(&m);
    if (!fp_expect(p, RS_MSG_CANCEL, &m))
        return;
    fp_send_error(p, m.m.request_id, "unavailable", "PostgreSQL is down", true);
    fp_msg_free(&m);
    if (!fp_expect(p, RS_MSG_PING, &m))
        return;
    fp_send_empty(p, RS_MSG_PONG, m.m.request_id);
    fp_msg_free(&m);
    fp_wait_closed(p);
}

Test(session, error_replies_are_values_and_the_session_goes_on)
{
    struct fakepeer p;
    struct rs_client *c = ct_connect(&p, script_errors, NULL, 0, 0);
    struct rs_job_info *job = (struct rs_job_info *)1;
    cr_expect_eq(rs_get(c, 99, &job), RS_CLIENT_E_SERVER);
    cr_expect_null(job);
    cr_expect_str_eq(rs_client_error_code(c), "not_found");
    cr_expect(strstr(rs_client_errmsg(c), "no job 99") != NULL, "%s", rs_client_errmsg(c));
    cr_expect_not(rs_client_error_retryable(c));
    cr_expect_eq(rs_cancel(c, 5, &job), RS_CLIENT_E_SERVER);
    cr_expect_str_eq(rs_client_error_code(c), "unavailable");
    cr_expect(rs_client_error_retryable(c));
    cr_expect_eq(rs_client_ping(c), RS_CLIENT_OK, "%s", rs_client_errmsg(c));
    cr_expect_null(rs_client_error_code(c), "a successful call clears the last error");
    cr_expect_str_eq(rs_client_errmsg(c), "");
    rs_client_close(c);
    ct_finish(&p);
}

/* AWAIT with a timeout → ERROR timeout. */
static void script_await_timeout(struct fakepeer *p, void *arg)
{
    (void)arg;
    struct fp_msg m;
    if (!fp_expect(p, RS_MSG_AWAIT, &m))
        return;
    fp_check(p, m.m.u.ref.job == 12, "AWAIT of job %llu", (unsigned long long)m.m.u.ref.job);
    fp_check(p, (m.m.u.ref.has & RS_HAS_AWAIT_TIMEOUT) && m.m.u.ref.timeout_ms == 250,
             "AWAIT timeout_ms not carried");
    fp_send_error(p, m.m.request_id, "timeout", "job 12 is not final after 250 ms", true);
    fp_msg_free(&m);
    if (!fp_expect(p, RS_MSG_AWAIT, &m))
        return;
    fp_check(p, (m.m.u.ref.has & RS_HAS_AWAIT_TIMEOUT) == 0, "no timeout_ms when unbounded");
    struct rs_msg r;
    memset(&r, 0, sizeof(r));
    r.type = RS_MSG_COMPLETED;
    r.request_id = m.m.request_id;
    r.u.completed.job = 12;
    r.u.completed.status = RS_STATUS_DEAD;
    r.u.completed.attempt = 3;
    r.u.completed.error = RS_STR("boom");
    fp_send(p, &r);
    fp_msg_free(&m);
    fp_wait_closed(p);
}

Test(session, await_timeout_is_a_timeout_and_completion_is_copied)
{
    struct fakepeer p;
    struct rs_client *c = ct_connect(&p, script_await_timeout, NULL, 0, 0);
    struct rs_completion *done = NULL;
    cr_expect_eq(rs_await(c, 12, 250, &done), RS_CLIENT_E_TIMEOUT);
    cr_expect_null(done);
    cr_expect_str_eq(rs_client_error_code(c), "timeout");
    cr_expect(rs_client_error_retryable(c));
    cr_assert_eq(rs_await(c, 12, -1, &done), RS_CLIENT_OK, "%s", rs_client_errmsg(c));
    cr_expect_eq(done->job, 12);
    cr_expect_eq(done->status, RS_JOB_DEAD);
    cr_expect_eq(done->attempt, 3);
    cr_expect_null(done->result);
    cr_expect_str_eq(done->error, "boom");
    rs_completion_free(done);
    rs_client_close(c);
    ct_finish(&p);
}

/* GET is not answered until PING came: then both, the late JOB first. */
static void script_late(struct fakepeer *p, void *arg)
{
    (void)arg;
    struct fp_msg g, ping;
    if (!fp_expect(p, RS_MSG_GET, &g) || !fp_expect(p, RS_MSG_PING, &ping))
        return;
    fp_send_job(p, g.m.request_id, 3, "t:late", RS_STATUS_PENDING);
    fp_send_empty(p, RS_MSG_PONG, ping.m.request_id);
    fp_msg_free(&g);
    fp_msg_free(&ping);
    fp_wait_closed(p);
}

Test(session, a_timed_out_call_leaves_the_client_usable_and_drops_the_late_reply)
{
    struct fakepeer p;
    struct rs_client *c = ct_connect(&p, script_late, NULL, 200, 0);
    struct rs_job_info *job = NULL;
    cr_expect_eq(rs_get(c, 3, &job), RS_CLIENT_E_TIMEOUT);
    cr_expect_null(job);
    cr_expect_eq(rs_client_ping(c), RS_CLIENT_OK, "%s", rs_client_errmsg(c));
    rs_client_close(c);
    ct_finish(&p);
}

/* An AWAIT waits; the daemon shuts down: ERROR id 0, then close. */
static void script_shutdown(struct fakepeer *p, void *arg)
{
    (void)arg;
    struct fp_msg m;
    if (!fp_expect(p, RS_MSG_AWAIT, &m))
        return;
    fp_msg_free(&m);
    fp_send_error(p, 0, "shutting_down", "reseoliod is stopping", true);
    fp_hangup(p);
}

Test(session, a_session_error_fails_every_pending_call_once)
{
    struct fakepeer p;
    struct rs_client *c = ct_connect(&p, script_shutdown, NULL, 0, 0);
    struct got g = {0};
    cr_assert_eq(rs_await_async(c, 8, -1, on_reply, &g), RS_CLIENT_OK);
    cr_expect_eq(ct_pump(c, &g.calls, 1), RS_CLIENT_E_SERVER);
    cr_expect_eq(g.calls, 1);
    cr_expect_eq(g.status, RS_CLIENT_E_SERVER);
    cr_expect_str_eq(g.code, "shutting_down");
    cr_expect_eq(rs_client_process(c, 0), RS_CLIENT_E_SERVER, "the end stays reported");
    cr_expect_str_eq(rs_client_error_code(c), "shutting_down");
    cr_expect_eq(rs_client_ping(c), RS_CLIENT_E_IO);
    cr_expect_eq(rs_get_async(c, 1, on_reply, &g), RS_CLIENT_E_IO);
    cr_expect_eq(g.calls, 1, "exactly once");
    rs_client_close(c);
    ct_finish(&p);
}

/* Two GETs; the connection is dropped without a word. */
static void script_hangup(struct fakepeer *p, void *arg)
{
    (void)arg;
    struct fp_msg a, b;
    if (!fp_expect(p, RS_MSG_GET, &a) || !fp_expect(p, RS_MSG_GET, &b))
        return;
    fp_msg_free(&a);
    fp_msg_free(&b);
    fp_hangup(p);
}

Test(session, a_dropped_connection_fails_pending_calls_with_io)
{
    struct fakepeer p;
    struct rs_client *c = ct_connect(&p, script_hangup, NULL, 0, 0);
    struct got g[2] = {0};
    cr_assert_eq(rs_get_async(c, 1, on_reply, &g[0]), RS_CLIENT_OK);
    cr_assert_eq(rs_get_async(c, 2, on_reply, &g[1]), RS_CLIENT_OK);
    int never = 0;
    cr_expect_eq(ct_pump(c, &never, 1), RS_CLIENT_E_IO);
    for (int i = 0; i < 2; i++) {
        cr_expect_eq(g[i].calls, 1);
        cr_expect_eq(g[i].status, RS_CLIENT_E_IO);
    }
    rs_client_close(c);
    cr_expect_eq(g[0].calls + g[1].calls, 2, "close runs no callback a second time");
    ct_finish(&p);
}

/* Two GETs, answered in order. */
static void script_two_gets(struct fakepeer *p, void *arg)
{
    (void)arg;
    struct fp_msg a, b;
    p->may_be_gone = true; /* the first callback closes the client */
    if (!fp_expect(p, RS_MSG_GET, &a) || !fp_expect(p, RS_MSG_GET, &b))
        return;
    fp_send_job(p, a.m.request_id, 1, "t:x", RS_STATUS_PENDING);
    fp_send_job(p, b.m.request_id, 2, "t:x", RS_STATUS_PENDING);
    fp_msg_free(&a);
    fp_msg_free(&b);
    fp_wait_closed(p);
}

static struct got closed_by_cb[2];
static void on_reply_close(struct rs_client *c, const struct rs_reply *r, void *arg)
{
    on_reply(c, r, arg);
    rs_client_close(c);
    rs_client_close(c); /* twice: still deferred, still safe */
    cr_expect_eq(rs_client_ping(c), RS_CLIENT_E_CLOSED, "no call on a closing client");
}

Test(session, closing_inside_a_callback_is_deferred_and_safe)
{
    struct fakepeer p;
    struct rs_client *c = ct_connect(&p, script_two_gets, NULL, 0, 0);
    memset(closed_by_cb, 0, sizeof(closed_by_cb));
    cr_assert_eq(rs_get_async(c, 1, on_reply_close, &closed_by_cb[0]), RS_CLIENT_OK);
    cr_assert_eq(rs_get_async(c, 2, on_reply, &closed_by_cb[1]), RS_CLIENT_OK);
    enum rs_client_status st = RS_CLIENT_OK;
    while (st == RS_CLIENT_OK) {
        struct pollfd pfd = {.fd = rs_client_fd(c), .events = POLLIN};
        cr_assert_eq(poll(&pfd, 1, FP_TIMEOUT_MS), 1);
        st = rs_client_process(c, pfd.revents);
    }
    /* c is freed now: ASan would catch any use. */
    cr_expect_eq(st, RS_CLIENT_E_CLOSED);
    cr_expect_eq(closed_by_cb[0].calls, 1);
    cr_expect_eq(closed_by_cb[0].status, RS_CLIENT_OK);
    cr_expect_eq(closed_by_cb[1].calls, 1);
    cr_expect(closed_by_cb[1].status == RS_CLIENT_E_CLOSED ||
                  closed_by_cb[1].status == RS_CLIENT_OK,
              "the second reply either came first or was cut off by the close");
    ct_finish(&p);
}

Test(session, closing_inside_a_callback_during_a_blocking_call)
{
    struct fakepeer p;
    struct rs_client *c = ct_connect(&p, script_two_gets, NULL, 0, 0);
    memset(closed_by_cb, 0, sizeof(closed_by_cb));
    cr_assert_eq(rs_get_async(c, 1, on_reply_close, &closed_by_cb[0]), RS_CLIENT_OK);
    struct rs_job_info *job = NULL;
    cr_expect_eq(rs_get(c, 2, &job), RS_CLIENT_E_CLOSED);
    cr_expect_null(job);
    cr_expect_eq(closed_by_cb[0].calls, 1);
    ct_finish(&p);
}

/* Answer PINGs until the client leaves. */
static void script_pongs(struct fakepeer *p, void *arg)
{
    (void)arg;
    for (;;) {
        struct fp_msg m;
        if (fp_recv(p, &m) != 1)
            return;
        fp_check(p, m.m.type == RS_MSG_PING, "expected PING");
        fp_send_empty(p, RS_MSG_PONG, m.m.request_id);
        fp_msg_free(&m);
    }
}

Test(session, requests_in_flight_are_bounded)
{
    struct fakepeer p;
    struct rs_client *c = ct_connect(&p, script_pongs, NULL, 0, 2);
    struct got g[3] = {0};
    cr_assert_eq(rs_client_ping_async(c, on_reply, &g[0]), RS_CLIENT_OK);
    cr_assert_eq(rs_client_ping_async(c, on_reply, &g[1]), RS_CLIENT_OK);
    cr_expect_eq(rs_client_ping_async(c, on_reply, &g[2]), RS_CLIENT_E_LIMIT);
    cr_expect(strstr(rs_client_errmsg(c), "max_inflight") != NULL, "%s", rs_client_errmsg(c));
    cr_expect_eq(rs_client_ping(c), RS_CLIENT_E_LIMIT, "blocking calls share the bound");
    callback_count = 0;
    cr_assert_eq(ct_pump(c, &callback_count, 2), RS_CLIENT_OK);
    cr_expect_eq(rs_client_ping(c), RS_CLIENT_OK, "room again: %s", rs_client_errmsg(c));
    cr_expect_eq(g[2].calls, 0, "a refused call never calls back");
    rs_client_close(c);
    ct_finish(&p);
}

/* A reply to a request that was never sent, while a PING waits for its PONG. */
static void script_stray(struct fakepeer *p, void *arg)
{
    (void)arg;
    struct fp_msg m;
    if (!fp_expect(p, RS_MSG_PING, &m))
        return;
    p->may_be_gone = true;
    fp_send_empty(p, RS_MSG_PONG, m.m.request_id + 999);
    fp_send_empty(p, RS_MSG_PONG, m.m.request_id);
    fp_msg_free(&m);
    fp_wait_closed(p);
}

Test(session, a_reply_nobody_asked_for_breaks_the_session)
{
    struct fakepeer p;
    struct rs_client *c = ct_connect(&p, script_stray, NULL, 0, 0);
    cr_expect_eq(rs_client_ping(c), RS_CLIENT_E_PROTOCOL);
    cr_expect(strstr(rs_client_errmsg(c), "not in flight") != NULL, "%s", rs_client_errmsg(c));
    rs_client_close(c);
    ct_finish(&p);
}

/* A GET answered with the wrong type of reply. */
static void script_wrong_type(struct fakepeer *p, void *arg)
{
    (void)arg;
    struct fp_msg m;
    if (!fp_expect(p, RS_MSG_GET, &m))
        return;
    fp_send_enqueued(p, m.m.request_id, 1, false);
    fp_msg_free(&m);
    fp_wait_closed(p);
}

Test(session, a_reply_of_the_wrong_type_fails_the_call_and_the_session)
{
    struct fakepeer p;
    struct rs_client *c = ct_connect(&p, script_wrong_type, NULL, 0, 0);
    struct rs_job_info *job = NULL;
    cr_expect_eq(rs_get(c, 1, &job), RS_CLIENT_E_PROTOCOL);
    cr_expect(strstr(rs_client_errmsg(c), "expected JOB") != NULL, "%s", rs_client_errmsg(c));
    cr_expect_eq(rs_client_ping(c), RS_CLIENT_E_IO);
    rs_client_close(c);
    ct_finish(&p);
}

/* A DISPATCH to a connection that never registered, while a PING waits. */
static void script_unasked_dispatch(struct fakepeer *p, void *arg)
{
    (void)arg;
    struct fp_msg m;
    if (!fp_expect(p, RS_MSG_PING, &m))
        return;
    p->may_be_gone = true;
    fp_send_dispatch(p, 5, "t:x", NULL, 0, 1);
    fp_send_empty(p, RS_MSG_PONG, m.m.request_id);
    fp_msg_free(&m);
    fp_wait_closed(p);
}

Test(session, a_dispatch_without_register_breaks_the_session)
{
    struct fakepeer p;
    struct rs_client *c = ct_connect(&p, script_unasked_dispatch, NULL, 0, 0);
    cr_expect_eq(rs_client_ping(c), RS_CLIENT_E_PROTOCOL);
    cr_expect(strstr(rs_client_errmsg(c), "REGISTER") != NULL, "%s", rs_client_errmsg(c));
    rs_client_close(c);
    ct_finish(&p);
}

Test(session, closing_with_calls_in_flight_calls_back_with_closed)
{
    struct fakepeer p;
    struct rs_client *c = ct_connect(&p, script_hangup, NULL, 0, 0);
    struct got g[2] = {0};
    cr_assert_eq(rs_get_async(c, 1, on_reply, &g[0]), RS_CLIENT_OK);
    cr_assert_eq(rs_get_async(c, 2, on_reply, &g[1]), RS_CLIENT_OK);
    rs_client_close(c);
    for (int i = 0; i < 2; i++) {
        cr_expect_eq(g[i].calls, 1);
        cr_expect_eq(g[i].status, RS_CLIENT_E_CLOSED);
    }
    ct_finish(&p);
}

/* Reads nothing until the test says so, then answers every ENQUEUE. */
static atomic_bool start_reading;
static atomic_int enqueues_sent;

static void script_slow_reader(struct fakepeer *p, void *arg)
{
    (void)arg;
    while (!atomic_load(&start_reading))
        usleep(1000);
    for (int n = 0; n < atomic_load(&enqueues_sent); n++) {
        struct fp_msg m;
        if (!fp_expect(p, RS_MSG_ENQUEUE, &m))
            return;
        fp_check(p, m.m.u.enqueue.args.len == 512 * 1024, "args arrive whole");
        fp_send_enqueued(p, m.m.request_id, (uint64_t)n + 1, false);
        fp_msg_free(&m);
    }
    fp_wait_closed(p);
}

Test(session, output_the_daemon_does_not_read_is_bounded_then_drains)
{
    struct fakepeer p;
    atomic_store(&start_reading, false);
    struct rs_client *c = ct_connect(&p, script_slow_reader, NULL, 0, 0);
    size_t len = 512 * 1024;
    uint8_t *args = calloc(1, len);
    static struct got g[64];
    int sent = 0;
    enum rs_client_status st = RS_CLIENT_OK;
    while (sent < 64 &&
           (st = rs_enqueue_async(c, "t:big", args, len, NULL, on_reply, &g[sent])) == RS_CLIENT_OK)
        sent++;
    cr_expect_eq(st, RS_CLIENT_E_LIMIT, "the output queue must refuse at some point");
    cr_expect(strstr(rs_client_errmsg(c), "not written yet") != NULL, "%s", rs_client_errmsg(c));
    cr_expect_lt(sent, 64);
    cr_expect(rs_client_want_write(c), "output is waiting for the socket");
    atomic_store(&enqueues_sent, sent);
    atomic_store(&start_reading, true);
    callback_count = 0;
    cr_assert_eq(ct_pump(c, &callback_count, sent), RS_CLIENT_OK, "%s", rs_client_errmsg(c));
    cr_expect_not(rs_client_want_write(c));
    for (int i = 0; i < sent; i++)
        cr_expect(g[i].calls == 1 && g[i].status == RS_CLIENT_OK && g[i].job == (uint64_t)i + 1);
    free(args);
    rs_client_close(c);
    ct_finish(&p);
}
