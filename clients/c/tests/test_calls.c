/*
 * The job calls of libreseolio against a fake daemon: every ENQUEUE option reaches the wire
 * as docs/protocol.md names it, bad arguments are refused before anything is sent, and
 * JOB, JOBS and COMPLETED become complete owned copies.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "clienttest.h"

static bool str_is(struct rs_str s, const char *want)
{
    return s.ptr != NULL && s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

/* Two ENQUEUEs: one with every option but run_at, one with run_at only. */
static void script_enqueue(struct fakepeer *p, void *arg)
{
    (void)arg;
    struct fp_msg m;
    if (!fp_expect(p, RS_MSG_ENQUEUE, &m))
        return;
    const struct rs_enqueue *e = &m.m.u.enqueue;
    fp_check(p, str_is(e->name, "orders:payment:charge"), "name");
    fp_check(p, e->args.len == 3 && memcmp(e->args.ptr, "\x92\x01\x02", 3) == 0, "args");
    fp_check(p, str_is(e->key, "order-17"), "key");
    fp_check(p, (e->has & RS_HAS_MAX_ATTEMPTS) && e->max_attempts == 7, "max_attempts");
    fp_check(p, e->has_backoff && e->backoff == RS_BACKOFF_LINEAR, "backoff");
    fp_check(p, (e->has & RS_HAS_INITIAL_DELAY) && e->initial_delay_ms == 0, "initial_delay 0");
    fp_check(p, (e->has & RS_HAS_MAX_DELAY) && e->max_delay_ms == 5000, "max_delay");
    fp_check(p, (e->has & RS_HAS_JITTER) && e->jitter == 0.25, "jitter");
    fp_check(p, (e->has & RS_HAS_TIMEOUT) && e->timeout_ms == 1500, "timeout");
    fp_check(p, (e->has & RS_HAS_PRIORITY) && e->priority == -5, "priority");
    fp_check(p, (e->has & RS_HAS_DELAY) && e->delay_ms == 60000, "delay");
    fp_check(p, (e->has & RS_HAS_RUN_AT) == 0, "no run_at");
    fp_send_enqueued(p, m.m.request_id, 501, true);
    fp_msg_free(&m);

    if (!fp_expect(p, RS_MSG_ENQUEUE, &m))
        return;
    e = &m.m.u.enqueue;
    fp_check(p, e->args.ptr == NULL, "no args: field left out");
    fp_check(p, e->key.ptr == NULL, "no key");
    fp_check(p, (e->has & ~RS_HAS_RUN_AT) == 0 && !e->has_backoff, "defaults are left out");
    fp_check(p, (e->has & RS_HAS_RUN_AT) && e->run_at == 1900000000000, "run_at");
    fp_send_enqueued(p, m.m.request_id, 502, false);
    fp_msg_free(&m);
    fp_wait_closed(p);
}

Test(calls, enqueue_sends_every_option)
{
    struct fakepeer p;
    struct rs_client *c = ct_connect(&p, script_enqueue, NULL, 0, 0);
    struct rs_enqueue_opts o;
    rs_enqueue_opts_init(&o);
    o.idempotency_key = "order-17";
    o.max_attempts = 7;
    o.backoff = RS_CLIENT_BACKOFF_LINEAR;
    o.initial_delay_ms = 0;
    o.max_delay_ms = 5000;
    o.jitter = 0.25;
    o.timeout_ms = 1500;
    o.priority = -5;
    o.delay_ms = 60000;
    struct rs_enqueue_result r;
    cr_assert_eq(rs_enqueue(c, "orders:payment:charge", "\x92\x01\x02", 3, &o, &r), RS_CLIENT_OK,
                 "%s", rs_client_errmsg(c));
    cr_expect_eq(r.job, 501);
    cr_expect(r.deduplicated);

    rs_enqueue_opts_init(&o);
    o.run_at_ms = 1900000000000;
    cr_assert_eq(rs_enqueue(c, "t:later", NULL, 0, &o, &r), RS_CLIENT_OK, "%s",
                 rs_client_errmsg(c));
    cr_expect_eq(r.job, 502);
    cr_expect_not(r.deduplicated);
    rs_client_close(c);
    ct_finish(&p);
}

/* Expects nothing but one PING: any earlier message is a failure. */
static void script_only_ping(struct fakepeer *p, void *arg)
{
    (void)arg;
    struct fp_msg m;
    if (!fp_expect(p, RS_MSG_PING, &m))
        return;
    fp_send_empty(p, RS_MSG_PONG, m.m.request_id);
    fp_msg_free(&m);
    fp_wait_closed(p);
}

/* One bad enqueue: E_ARG, a message naming the problem. */
static void expect_refused(struct rs_client *c, const char *name, const void *args, size_t len,
                           const struct rs_enqueue_opts *o, const char *says)
{
    struct rs_enqueue_result r;
    cr_expect_eq(rs_enqueue(c, name, args, len, o, &r), RS_CLIENT_E_ARG, "expected a refusal: %s",
                 says);
    cr_expect(strstr(rs_client_errmsg(c), says) != NULL, "message '%s' lacks '%s'",
              rs_client_errmsg(c), says);
}

Test(calls, bad_arguments_are_refused_before_anything_is_sent)
{
    struct fakepeer p;
    struct rs_client *c = ct_connect(&p, script_only_ping, NULL, 0, 0);
    char longname[300];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    struct rs_enqueue_opts o;

    expect_refused(c, NULL, NULL, 0, NULL, "function name");
    expect_refused(c, "", NULL, 0, NULL, "function name");
    expect_refused(c, longname, NULL, 0, NULL, "function name");
    expect_refused(c, "t:x", NULL, 4, NULL, "args is NULL");
    rs_enqueue_opts_init(&o);
    o.run_at_ms = 1;
    o.delay_ms = 1;
    expect_refused(c, "t:x", NULL, 0, &o, "exclude each other");
    rs_enqueue_opts_init(&o);
    o.jitter = 1.5;
    expect_refused(c, "t:x", NULL, 0, &o, "jitter");
    o.jitter = NAN;
    expect_refused(c, "t:x", NULL, 0, &o, "jitter");
    rs_enqueue_opts_init(&o);
    o.max_attempts = 1001;
    expect_refused(c, "t:x", NULL, 0, &o, "max_attempts");
    rs_enqueue_opts_init(&o);
    o.priority = 40000;
    expect_refused(c, "t:x", NULL, 0, &o, "priority");
    rs_enqueue_opts_init(&o);
    o.idempotency_key = "";
    expect_refused(c, "t:x", NULL, 0, &o, "idempotency key");
    rs_enqueue_opts_init(&o);
    o.initial_delay_ms = 31LL * 24 * 3600 * 1000;
    expect_refused(c, "t:x", NULL, 0, &o, "initial_delay_ms");
    rs_enqueue_opts_init(&o);
    o.timeout_ms = 25LL * 3600 * 1000;
    expect_refused(c, "t:x", NULL, 0, &o, "timeout_ms");
    rs_enqueue_opts_init(&o);
    o.backoff = (enum rs_client_backoff)9;
    expect_refused(c, "t:x", NULL, 0, &o, "backoff");
    rs_enqueue_opts_init(&o);
    o.delay_ms = -1;
    expect_refused(c, "t:x", NULL, 0, &o, "delay_ms");
    /* Args larger than the daemon's frame limit (1 MiB here). */
    size_t big = 2u * 1024 * 1024;
    char *args = calloc(1, big);
    expect_refused(c, "t:x", args, big, NULL, "frame limit");
    free(args);
    struct rs_list_filter f = {.limit = 1001};
    struct rs_job_list *l = NULL;
    cr_expect_eq(rs_list(c, &f, 0, &l), RS_CLIENT_E_ARG);
    cr_expect_null(l);

    cr_expect_eq(rs_client_ping(c), RS_CLIENT_OK, "the session is untouched: %s",
                 rs_client_errmsg(c));
    rs_client_close(c);
    ct_finish(&p);
}

/* A job with every field, fields as the fake sends them. */
static void fill_job(struct rs_job *j, uint64_t id)
{
    memset(j, 0, sizeof(*j));
    j->id = id;
    j->name = RS_STR("t:full");
    j->status = RS_STATUS_SUCCESS;
    j->attempt = 2;
    j->max_attempts = 5;
    j->args = (struct rs_bytes){(const uint8_t *)"\x91\x05", 2};
    j->result = (struct rs_bytes){(const uint8_t *)"\x2a", 1};
    j->error = RS_STR("first attempt failed");
    j->key = RS_STR("k-1");
    j->priority = 9;
    j->created_at = 1700000000001;
    j->run_at = 1700000000002;
    j->has = RS_HAS_STARTED_AT | RS_HAS_FINISHED_AT;
    j->started_at = 1700000000003;
    j->finished_at = 1700000000004;
}

/* GET → a full JOB; RETRY → a job without optional fields; LIST twice (paged). */
static void script_jobs(struct fakepeer *p, void *arg)
{
    (void)arg;
    struct fp_msg m;
    struct rs_msg r;
    if (!fp_expect(p, RS_MSG_GET, &m))
        return;
    memset(&r, 0, sizeof(r));
    r.type = RS_MSG_JOB;
    r.request_id = m.m.request_id;
    fill_job(&r.u.job, 77);
    fp_send(p, &r);
    fp_msg_free(&m);

    if (!fp_expect(p, RS_MSG_RETRY, &m))
        return;
    fp_send_job(p, m.m.request_id, 78, "t:bare", RS_STATUS_PENDING);
    fp_msg_free(&m);

    if (!fp_expect(p, RS_MSG_LIST, &m))
        return;
    const struct rs_list *l = &m.m.u.list;
    fp_check(p, l->has_status && l->status == RS_STATUS_DEAD, "status filter");
    fp_check(p, str_is(l->name, "t:full"), "name filter");
    fp_check(p, (l->has & RS_HAS_LIMIT) && l->limit == 2, "limit");
    fp_check(p, (l->has & RS_HAS_AFTER) == 0, "no cursor on the first page");
    struct rs_job jobs[2];
    fill_job(&jobs[0], 90);
    fill_job(&jobs[1], 89);
    memset(&r, 0, sizeof(r));
    r.type = RS_MSG_JOBS;
    r.request_id = m.m.request_id;
    r.u.jobs.jobs = jobs;
    r.u.jobs.njobs = 2;
    r.u.jobs.has = RS_HAS_NEXT;
    r.u.jobs.next = 89;
    fp_send(p, &r);
    fp_msg_free(&m);

    if (!fp_expect(p, RS_MSG_LIST, &m))
        return;
    fp_check(p, (m.m.u.list.has & RS_HAS_AFTER) && m.m.u.list.after == 89, "cursor");
    memset(&r, 0, sizeof(r));
    r.type = RS_MSG_JOBS;
    r.request_id = m.m.request_id;
    fp_send(p, &r);
    fp_msg_free(&m);
    fp_wait_closed(p);
}

static void expect_full_job(const struct rs_job_info *j, uint64_t id)
{
    cr_expect_eq(j->id, id);
    cr_expect_str_eq(j->name, "t:full");
    cr_expect_eq(j->status, RS_JOB_SUCCESS);
    cr_expect_eq(j->attempt, 2);
    cr_expect_eq(j->max_attempts, 5);
    cr_expect(j->args_len == 2 && memcmp(j->args, "\x91\x05", 2) == 0);
    cr_expect(j->result != NULL && j->result_len == 1 && j->result[0] == 0x2a);
    cr_expect_str_eq(j->error, "first attempt failed");
    cr_expect_str_eq(j->key, "k-1");
    cr_expect_eq(j->priority, 9);
    cr_expect_eq(j->created_at, 1700000000001);
    cr_expect_eq(j->run_at, 1700000000002);
    cr_expect_eq(j->started_at, 1700000000003);
    cr_expect_eq(j->finished_at, 1700000000004);
}

Test(calls, jobs_and_pages_are_complete_owned_copies)
{
    struct fakepeer p;
    struct rs_client *c = ct_connect(&p, script_jobs, NULL, 0, 0);
    struct rs_job_info *j = NULL;
    cr_assert_eq(rs_get(c, 77, &j), RS_CLIENT_OK, "%s", rs_client_errmsg(c));
    expect_full_job(j, 77);
    rs_job_info_free(j);

    cr_assert_eq(rs_retry(c, 78, &j), RS_CLIENT_OK, "%s", rs_client_errmsg(c));
    cr_expect_eq(j->id, 78);
    cr_expect_str_eq(j->name, "t:bare");
    cr_expect_eq(j->status, RS_JOB_PENDING);
    cr_expect(j->args != NULL && j->args_len == 0, "args are never NULL");
    cr_expect_null(j->result);
    cr_expect_null(j->error);
    cr_expect_null(j->key);
    cr_expect_eq(j->started_at, 0);
    cr_expect_eq(j->finished_at, 0);
    rs_job_info_free(j);

    struct rs_list_filter f = {
        .by_status = true, .status = RS_JOB_DEAD, .name = "t:full", .limit = 2};
    struct rs_job_list *l = NULL;
    cr_assert_eq(rs_list(c, &f, 0, &l), RS_CLIENT_OK, "%s", rs_client_errmsg(c));
    cr_assert_eq(l->count, 2);
    expect_full_job(&l->jobs[0], 90);
    expect_full_job(&l->jobs[1], 89);
    cr_expect_eq(l->next, 89);
    uint64_t next = l->next;
    rs_job_list_free(l);
    cr_assert_eq(rs_list(c, &f, next, &l), RS_CLIENT_OK, "%s", rs_client_errmsg(c));
    cr_expect_eq(l->count, 0);
    cr_expect_eq(l->next, 0, "the last page has no cursor");
    rs_job_list_free(l);
    rs_client_close(c);
    ct_finish(&p);
}

Test(calls, names_of_statuses)
{
    cr_expect_str_eq(rs_job_status_name(RS_JOB_PENDING), "pending");
    cr_expect_str_eq(rs_job_status_name(RS_JOB_CANCELLED), "cancelled");
    cr_expect_str_eq(rs_client_status_name(RS_CLIENT_E_LIMIT), "client queue full");
    cr_expect_str_eq(rs_client_status_name(RS_CLIENT_E_CLOSED), "client closed");
}
