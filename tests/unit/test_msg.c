/*
 * Messages (protocol/decode.c, encode.c, fields.c, mpcheck.c, codes.c, utf8.c): every type
 * round-trips with every field, the encoder refuses what the decoder would, limits hold.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"
#include "reseolio/msg.h"
#include "reseolio/proto.h"
#include "utf8.h"

#define NTYPES 22
static const enum rs_msg_type all_types[NTYPES] = {
    RS_MSG_HELLO, RS_MSG_WELCOME,    RS_MSG_ERROR,    RS_MSG_PING,      RS_MSG_PONG,
    RS_MSG_OK,    RS_MSG_ENQUEUE,    RS_MSG_ENQUEUED, RS_MSG_REGISTER,  RS_MSG_DISPATCH,
    RS_MSG_ACK,   RS_MSG_ABANDON,    RS_MSG_AWAIT,    RS_MSG_COMPLETED, RS_MSG_GET,
    RS_MSG_JOB,   RS_MSG_CANCEL,     RS_MSG_RETRY,    RS_MSG_LIST,      RS_MSG_JOBS,
    RS_MSG_STATS, RS_MSG_STATISTICS,
};

static const uint8_t ARGS[] = {0x92, 0x2a, 0xa3, 'E', 'U', 'R'};
static const uint8_t RESULT[] = {0x81, 0xa2, 'o', 'k', 0xc3};
#define BYTES(a) ((struct rs_bytes){(a), (uint32_t)sizeof(a)})

/* RS_STR is a compound literal, which a static initializer cannot use. */
#define NAME(lit)                                                                                  \
    {                                                                                              \
        (lit), (uint32_t)(sizeof(lit) - 1)                                                         \
    }
static struct rs_str register_names[] = {NAME("orders:payment:charge"), NAME("emails:send"),
                                         NAME("caf\xc3\xa9")};

/* A JOB with every field. */
static struct rs_job full_job(void)
{
    return (struct rs_job){
        .has = RS_HAS_STARTED_AT | RS_HAS_FINISHED_AT | RS_HAS_PARENT | RS_HAS_STEP,
        .id = 9001,
        .name = RS_STR("orders:payment:charge"),
        .status = RS_STATUS_SUCCESS,
        .attempt = 2,
        .max_attempts = 5,
        .args = BYTES(ARGS),
        .result = BYTES(RESULT),
        .error = RS_STR("card declined"),
        .key = RS_STR("order-42"),
        .priority = -3,
        .created_at = 1700000000000,
        .run_at = 1700000001000,
        .started_at = 1700000001500,
        .finished_at = 1700000001750,
        .parent = 9000,
        .step = RS_MAX_STEP,
    };
}

/* A JOB with the required fields only. */
static struct rs_job minimal_job(void)
{
    return (struct rs_job){.id = 9002,
                           .name = RS_STR("emails:send"),
                           .status = RS_STATUS_PENDING,
                           .max_attempts = 3,
                           .args = {NULL, 0},
                           .created_at = 1,
                           .run_at = 2};
}

static struct rs_job jobs_storage[2];

/* STATISTICS with all three lists (the decoder allocates one array for each). */
static struct rs_statistics_fn stats_fns[2] = {
    {NAME("orders:payment:charge"), 12, 1, 14, 9, 5, 2, 1, 1, 13, 1234567},
    {NAME("_other"), 0, 0, 0, 0, 0, 0, 0, 0, 0, UINT64_MAX},
};
static struct rs_statistics_queue stats_queues[1] = {{NAME("emails:send"), 40, 2}};
static struct rs_statistics_node stats_nodes[2] = {
    {NAME("3f2a9c0e5b7d41e6a8c4f1b2d3e4f5a6"), NAME("app-1"), 4242, 1200, 1700000000000},
    {NAME("0"), NAME(""), 1, -3, INT64_MIN},
};

/* A message of type t with every field its table has, each with a telling value. */
static struct rs_msg full_msg(enum rs_msg_type t)
{
    struct rs_msg m = {.type = t, .request_id = 0xfffffffeu};
    switch (t) {
    case RS_MSG_HELLO:
        m.u.hello = (struct rs_hello){RS_HAS_PID, 1, RS_STR("reseolio-c/0.1.0"), 4242,
                                      RS_STR("postgresql://app@/srv/pg:5432/app")};
        break;
    case RS_MSG_WELCOME:
        m.u.welcome = (struct rs_welcome){1, RS_STR("n-7f3a"), RS_STR("reseoliod/0.1.0"),
                                          RS_MAX_FRAME_HARD, RS_STR("postgresql://app@/x")};
        break;
    case RS_MSG_ERROR:
        m.u.error = (struct rs_error_msg){RS_HAS_RETRYABLE, RS_STR("unavailable"),
                                          RS_STR("PostgreSQL unreachable"), true};
        break;
    case RS_MSG_ENQUEUE:
        m.u.enqueue = (struct rs_enqueue){
            .has = RS_HAS_MAX_ATTEMPTS | RS_HAS_INITIAL_DELAY | RS_HAS_MAX_DELAY | RS_HAS_JITTER |
                   RS_HAS_TIMEOUT | RS_HAS_PRIORITY | RS_HAS_RUN_AT | RS_HAS_PARENT | RS_HAS_STEP,
            .name = RS_STR("orders:payment:charge"),
            .args = BYTES(ARGS),
            .key = RS_STR("order-42"),
            .max_attempts = RS_MAX_ATTEMPTS_LIMIT,
            .has_backoff = true,
            .backoff = RS_BACKOFF_LINEAR,
            .initial_delay_ms = 0,
            .max_delay_ms = RS_MAX_DELAY_LIMIT_MS,
            .jitter = 0.3,
            .timeout_ms = RS_MAX_TIMEOUT_MS,
            .priority = INT16_MIN,
            .run_at = -1,
            .parent = INT64_MAX,
            .step = 0,
        };
        break;
    case RS_MSG_ENQUEUED:
        m.u.enqueued = (struct rs_enqueued){UINT64_MAX, true};
        break;
    case RS_MSG_REGISTER:
        m.u.reg = (struct rs_register){register_names, 3, RS_MAX_CONCURRENCY};
        break;
    case RS_MSG_DISPATCH:
        m.u.dispatch = (struct rs_dispatch){1, RS_STR("f"), BYTES(ARGS), 1, 3, INT64_MIN};
        break;
    case RS_MSG_ACK:
        m.u.ack = (struct rs_ack){RS_HAS_RETRYABLE, 9001,           2,     false,
                                  BYTES(RESULT),    RS_STR("boom"), false, false};
        break;
    case RS_MSG_ABANDON:
        m.u.abandon = (struct rs_abandon){9001, 2, RS_ABANDON_SHUTDOWN};
        break;
    case RS_MSG_AWAIT:
        m.u.ref = (struct rs_job_ref){RS_HAS_AWAIT_TIMEOUT | RS_HAS_WAITER | RS_HAS_WAITER_ATTEMPT,
                                      9001, 5000, 9000, INT32_MAX};
        break;
    case RS_MSG_GET:
    case RS_MSG_CANCEL:
    case RS_MSG_RETRY:
        m.u.ref = (struct rs_job_ref){0, (uint64_t)INT64_MAX + 1, 0, 0, 0};
        break;
    case RS_MSG_COMPLETED:
        m.u.completed =
            (struct rs_completed){9001, RS_STATUS_DEAD, 5, BYTES(RESULT), RS_STR("card declined")};
        break;
    case RS_MSG_JOB:
        m.u.job = full_job();
        break;
    case RS_MSG_LIST:
        m.u.list = (struct rs_list){RS_HAS_LIMIT | RS_HAS_AFTER | RS_HAS_PARENT,
                                    true,
                                    RS_STATUS_RUNNING,
                                    RS_STR("f"),
                                    RS_MAX_LIST,
                                    77,
                                    1};
        break;
    case RS_MSG_JOBS:
        jobs_storage[0] = full_job();
        jobs_storage[1] = minimal_job();
        m.u.jobs = (struct rs_jobs){RS_HAS_NEXT, jobs_storage, 2, 9000};
        break;
    case RS_MSG_STATISTICS:
        m.u.stats = (struct rs_statistics){
            .has = RS_HAS_COUNTED_AT | RS_HAS_TRUNCATED,
            .server = RS_STR("reseoliod/0.1.0"),
            .node = RS_STR("3f2a9c0e5b7d41e6a8c4f1b2d3e4f5a6"),
            .pid = 4242,
            .started_at = 1700000000000,
            .uptime_ms = 3600000,
            .connections = 3,
            .workers = 1,
            .running = 2,
            .storage = RS_STR("postgresql://app@/srv/pg:5432/app"),
            .schema = RS_STR("reseolio"),
            .storage_up = true,
            .counted_at = 1700003600000,
            .count_error = RS_STR("queue depth: timeout"),
            .truncated = true,
            .functions = stats_fns,
            .nfunctions = 2,
            .queues = stats_queues,
            .nqueues = 1,
            .nodes = stats_nodes,
            .nnodes = 2,
        };
        break;
    default:
        break; /* PING, PONG, OK, STATS */
    }
    return m;
}

/* Compare the present fields of two structs of table t. */
static void expect_same(const struct field_table *t, const void *a, const void *b, const char *what)
{
    for (unsigned i = 0; i < t->count; i++) {
        const struct field *f = &t->fields[i];
        bool pa = field_present(f, a), pb = field_present(f, b);
        cr_expect_eq(pa, pb, "%s.%s: presence %d vs %d", what, f->key, pa, pb);
        if (!pa || !pb)
            continue;
        const void *va = FIELD_CAT(a, f->off), *vb = FIELD_CAT(b, f->off);
        const struct rs_str *sa = va, *sb = vb;
        const uint32_t *na = FIELD_CAT(a, f->aux), *nb = FIELD_CAT(b, f->aux);
        switch (f->kind) {
        case FIELD_UINT:
        case FIELD_INT:
            cr_expect_eq(*(const uint64_t *)va, *(const uint64_t *)vb, "%s.%s", what, f->key);
            break;
        case FIELD_FLOAT:
            cr_expect_eq(*(const double *)va, *(const double *)vb, "%s.%s", what, f->key);
            break;
        case FIELD_BOOL:
            cr_expect_eq(*(const bool *)va, *(const bool *)vb, "%s.%s", what, f->key);
            break;
        case FIELD_ENUM:
            cr_expect_eq(*(const int *)va, *(const int *)vb, "%s.%s", what, f->key);
            break;
        case FIELD_STR:
        case FIELD_BIN:
            cr_expect_eq(sa->len, sb->len, "%s.%s length", what, f->key);
            if (sa->len == sb->len && sa->len > 0)
                cr_expect_eq(memcmp(sa->ptr, sb->ptr, sa->len), 0, "%s.%s bytes", what, f->key);
            break;
        case FIELD_NAMES:
            cr_expect_eq(*na, *nb, "%s.%s count", what, f->key);
            for (uint32_t k = 0; k < *na && k < *nb; k++) {
                const struct rs_str *x = *(struct rs_str *const *)va,
                                    *y = *(struct rs_str *const *)vb;
                cr_expect(x[k].len == y[k].len && memcmp(x[k].ptr, y[k].ptr, x[k].len) == 0,
                          "%s.names[%u]", what, k);
            }
            break;
        case FIELD_JOBS:
            cr_expect_eq(*na, *nb, "%s.%s count", what, f->key);
            for (uint32_t k = 0; k < *na && k < *nb; k++)
                expect_same(f->sub, *(const char *const *)va + k * f->size,
                            *(const char *const *)vb + k * f->size, f->sub->name);
            break;
        }
    }
}

/* Encode m, asserting success. */
static void encode_ok(struct rs_buf *b, const struct rs_msg *m)
{
    enum rs_code rc = rs_msg_encode(b, m);
    cr_assert_eq(rc, RS_OK, "encoding %s failed: %s", rs_msg_type_name((int)m->type),
                 rs_code_name(rc));
    uint32_t len = (uint32_t)b->data[0] << 24 | (uint32_t)b->data[1] << 16 |
                   (uint32_t)b->data[2] << 8 | b->data[3];
    cr_assert_eq((size_t)len + RS_FRAME_HEADER, b->len, "header length %u", len);
}

/* Decode the body of a whole frame, asserting success. */
static void decode_ok(struct rs_msg *m, const struct rs_buf *frame)
{
    struct rs_limits lim;
    struct rs_error err;
    rs_limits_default(&lim);
    enum rs_code rc =
        rs_msg_decode(m, frame->data + RS_FRAME_HEADER, frame->len - RS_FRAME_HEADER, &lim, &err);
    cr_assert_eq(rc, RS_OK, "decode failed: %s: %s", rs_code_name(rc), err.message);
}

/* Decode body[0..len) with the default limits; returns the code, message in *err. */
static enum rs_code decode_body(const void *body, size_t len, struct rs_msg *m,
                                struct rs_error *err)
{
    struct rs_limits lim;
    rs_limits_default(&lim);
    enum rs_code rc = rs_msg_decode(m, body, len, &lim, err);
    if (rc == RS_OK)
        rs_msg_free(m);
    return rc;
}

Test(msg, every_type_round_trips_with_every_field)
{
    for (int i = 0; i < NTYPES; i++) {
        struct rs_msg in = full_msg(all_types[i]), out;
        struct rs_buf first, second;
        rs_buf_init(&first, 0);
        rs_buf_init(&second, 0);
        encode_ok(&first, &in);
        decode_ok(&out, &first);
        cr_expect_eq(out.type, in.type);
        cr_expect_eq(out.request_id, in.request_id);
        const struct field_table *t = field_table_of((int)in.type);
        cr_assert_not_null(t);
        expect_same(t, &in.u, &out.u, t->name);
        encode_ok(&second, &out);
        cr_expect(first.len == second.len && memcmp(first.data, second.data, first.len) == 0,
                  "%s: re-encoding differs", t->name);
        rs_msg_free(&out);
        rs_buf_free(&first);
        rs_buf_free(&second);
    }
}

Test(msg, minimal_forms_round_trip)
{
    struct rs_msg in = {.type = RS_MSG_JOB, .request_id = 1, .u.job = minimal_job()}, out;
    struct rs_buf b;
    rs_buf_init(&b, 0);
    encode_ok(&b, &in);
    decode_ok(&out, &b);
    cr_expect_not_null(out.u.job.args.ptr, "an empty required bin decodes as present");
    cr_expect_eq(out.u.job.args.len, 0);
    cr_expect_null(out.u.job.result.ptr);
    cr_expect_eq(out.u.job.has, 0);
    rs_msg_free(&out);
    rs_buf_free(&b);
}

Test(msg, strings_point_into_the_body)
{
    struct rs_msg in = full_msg(RS_MSG_ENQUEUE), out;
    struct rs_buf b;
    rs_buf_init(&b, 0);
    encode_ok(&b, &in);
    decode_ok(&out, &b);
    const char *lo = (const char *)b.data, *hi = lo + b.len;
    cr_expect(out.u.enqueue.name.ptr > lo && out.u.enqueue.name.ptr < hi,
              "msgpack-c copied a string instead of referencing the body");
    cr_expect((const char *)out.u.enqueue.args.ptr > lo &&
                  (const char *)out.u.enqueue.args.ptr < hi,
              "msgpack-c copied a bin instead of referencing the body");
    rs_msg_free(&out);
    rs_buf_free(&b);
}

Test(msg, absent_optional_fields_hold_defaults)
{
    struct rs_msg in = {.type = RS_MSG_ENQUEUE, .u.enqueue.name = RS_STR("n")}, out;
    struct rs_buf b;
    rs_buf_init(&b, 0);
    encode_ok(&b, &in);
    decode_ok(&out, &b);
    const struct rs_enqueue *e = &out.u.enqueue;
    cr_expect_eq(e->has, 0);
    cr_expect_eq(e->has_backoff, false);
    cr_expect_eq(e->backoff, RS_BACKOFF_EXPONENTIAL);
    cr_expect_eq(e->max_attempts, 3);
    cr_expect_eq(e->initial_delay_ms, 1000);
    cr_expect_eq(e->max_delay_ms, 60000);
    cr_expect_eq(e->jitter, 0.1);
    cr_expect_eq(e->timeout_ms, 30000);
    cr_expect_eq(e->priority, 0);
    cr_expect_null(e->args.ptr);
    cr_expect_null(e->key.ptr);
    rs_msg_free(&out);

    rs_buf_reset(&b);
    in = (struct rs_msg){.type = RS_MSG_ACK, .u.ack = {.job = 1, .attempt = 1}};
    encode_ok(&b, &in);
    decode_ok(&out, &b);
    cr_expect_eq(out.u.ack.retryable, true, "ACK retryable defaults to true");
    cr_expect_eq(out.u.ack.has, 0);
    rs_msg_free(&out);

    rs_buf_reset(&b);
    in = (struct rs_msg){.type = RS_MSG_LIST};
    encode_ok(&b, &in);
    decode_ok(&out, &b);
    cr_expect_eq(out.u.list.limit, 100);
    cr_expect_eq(out.u.list.has_status, false);
    rs_msg_free(&out);
    rs_buf_free(&b);
}

Test(msg, failed_decode_keeps_request_id_and_names_the_field)
{
    static const uint8_t no_name[] = {0x93, 0x10, 0xcd, 0x12, 0x34, 0x80}; /* [ENQUEUE, 4660, {}] */
    struct rs_msg m;
    struct rs_error err;
    cr_assert_eq(decode_body(no_name, sizeof(no_name), &m, &err), RS_E_MISSING_FIELD);
    cr_expect_eq(m.request_id, 0x1234);
    cr_expect_eq(m.type, RS_MSG_ENQUEUE);
    cr_expect_str_eq(err.message, "ENQUEUE.name: missing");
    cr_expect_eq(err.code, RS_E_MISSING_FIELD);
    cr_expect_null(m.owned);

    static const uint8_t unknown[] = {0x93, 0x42, 0x07, 0x80};
    cr_assert_eq(decode_body(unknown, sizeof(unknown), &m, &err), RS_E_UNKNOWN_TYPE);
    cr_expect_eq(m.request_id, 7);
    cr_expect_eq((int)m.type, 0);

    static const uint8_t bad_type[] = {0x93, 0x42, 0xc0, 0x80};
    cr_assert_eq(decode_body(bad_type, sizeof(bad_type), &m, &err), RS_E_BAD_ENVELOPE);
    cr_expect_eq(m.request_id, 0, "no request id to echo");
}

/* Decode a body built by msgpack-c's packer, to reach values our encoder refuses to write. */
static enum rs_code decode_sbuffer(const msgpack_sbuffer *sb, struct rs_error *err)
{
    struct rs_msg m;
    return decode_body(sb->data, sb->size, &m, err);
}

/* Pack a string. */
static void pack_text(msgpack_packer *pk, const char *s, size_t len)
{
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

/* Pack a minimal job map; with bad_name, its name is not UTF-8. */
static void pack_job(msgpack_packer *pk, bool bad_name)
{
    static const char *const keys[] = {"id",   "name",     "status",     "attempt", "max_attempts",
                                       "args", "priority", "created_at", "run_at"};
    msgpack_pack_map(pk, 9);
    for (int i = 0; i < 9; i++) {
        pack_text(pk, keys[i], strlen(keys[i]));
        if (i == 1)
            pack_text(pk, bad_name ? "\xc0\x80" : "f", bad_name ? 2 : 1);
        else if (i == 2)
            pack_text(pk, "dead", 4);
        else if (i == 5)
            msgpack_pack_bin(pk, 0);
        else
            msgpack_pack_uint64(pk, 1);
    }
}

Test(msg, jobs_limit_and_nested_error_paths)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    struct rs_error err;
    for (unsigned n = 1000; n <= 1001; n++) {
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_array(&pk, 3);
        msgpack_pack_uint64(&pk, RS_MSG_JOBS);
        msgpack_pack_uint64(&pk, 1);
        msgpack_pack_map(&pk, 1);
        pack_text(&pk, "jobs", 4);
        msgpack_pack_array(&pk, n);
        for (unsigned i = 0; i < n; i++)
            pack_job(&pk, n == 1000 && i == 999);
        cr_expect_eq(decode_sbuffer(&sb, &err), RS_E_BAD_VALUE, "%u jobs: %s", n, err.message);
        if (n == 1000)
            cr_expect_str_eq(err.message, "JOBS.jobs[999].name: not valid UTF-8");
        else
            cr_expect_str_eq(err.message, "JOBS.jobs: number of entries out of range (0..1000)");
        msgpack_sbuffer_destroy(&sb);
    }

    struct rs_job *many = calloc(1001, sizeof(*many));
    for (int i = 0; i < 1001; i++)
        many[i] = minimal_job();
    struct rs_msg m = {.type = RS_MSG_JOBS, .u.jobs = {.jobs = many, .njobs = 1000}}, out;
    struct rs_buf b;
    rs_buf_init(&b, 0);
    encode_ok(&b, &m);
    decode_ok(&out, &b);
    cr_expect_eq(out.u.jobs.njobs, 1000);
    rs_msg_free(&out);
    cr_expect_null(out.u.jobs.jobs);
    m.u.jobs.njobs = 1001;
    rs_buf_reset(&b);
    cr_expect_eq(rs_msg_encode(&b, &m), RS_E_BAD_VALUE);
    rs_buf_free(&b);
    free(many);
}

/* STATISTICS carries three lists: each is its own allocation, all freed by rs_msg_free, and a
 * failure in the last frees the ones decoded before it (LeakSanitizer checks). */
Test(msg, several_lists_in_one_message)
{
    struct rs_msg m = full_msg(RS_MSG_STATISTICS), out;
    struct rs_buf b;
    rs_buf_init(&b, 0);
    encode_ok(&b, &m);
    decode_ok(&out, &b);
    cr_assert_eq(out.u.stats.nfunctions, 2);
    cr_assert_eq(out.u.stats.nqueues, 1);
    cr_assert_eq(out.u.stats.nnodes, 2);
    cr_expect_eq(out.u.stats.functions[1].duration_sum_us, UINT64_MAX);
    cr_expect_eq(out.u.stats.queues[0].pending, 40);
    cr_expect_eq(out.u.stats.nodes[1].started_at, INT64_MIN);
    cr_expect_neq((void *)out.u.stats.functions, (void *)out.u.stats.queues);
    rs_msg_free(&out);
    cr_expect_null(out.u.stats.functions);
    cr_expect_null(out.u.stats.queues);
    cr_expect_null(out.u.stats.nodes);
    cr_expect_eq(out.u.stats.nnodes, 0);

    /* The third list breaks a rule: the decode fails, nothing is left to free. */
    struct rs_statistics_node bad[1] = {stats_nodes[0]};
    bad[0].id = (struct rs_str){"", 0};
    m.u.stats.nodes = bad;
    m.u.stats.nnodes = 1;
    cr_expect_eq(rs_msg_encode(&b, &m), RS_E_BAD_VALUE, "the encoder refuses an empty node id");
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint64(&pk, RS_MSG_STATISTICS);
    msgpack_pack_uint64(&pk, 1);
    rs_buf_reset(&b);
    m.u.stats.nodes = stats_nodes;
    encode_ok(&b, &m);
    /* Re-pack the encoded fields with nodes[0].pid negative: copy the map, then patch. */
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    cr_assert_eq(msgpack_unpack_next(&up, (const char *)b.data + RS_FRAME_HEADER,
                                     b.len - RS_FRAME_HEADER, NULL),
                 MSGPACK_UNPACK_SUCCESS);
    msgpack_object_map *fields = &up.data.via.array.ptr[2].via.map;
    for (uint32_t i = 0; i < fields->size; i++) {
        msgpack_object_kv *kv = &fields->ptr[i];
        if (kv->key.via.str.size == 5 && memcmp(kv->key.via.str.ptr, "nodes", 5) == 0)
            kv->val.via.array.ptr[0].via.map.ptr[2].val =
                (msgpack_object){.type = MSGPACK_OBJECT_NEGATIVE_INTEGER, .via.i64 = -1};
    }
    msgpack_pack_object(&pk, up.data.via.array.ptr[2]);
    msgpack_unpacked_destroy(&up);
    struct rs_error err;
    cr_expect_eq(decode_sbuffer(&sb, &err), RS_E_BAD_VALUE);
    cr_expect_str_eq(err.message, "STATISTICS.nodes[0].pid: negative");
    msgpack_sbuffer_destroy(&sb);
    rs_buf_free(&b);
}

Test(msg, register_error_names_the_entry)
{
    static const uint8_t body[] = {0x93, 0x12, 0x01, 0x82, 0xa5, 'n',  'a', 'm', 'e',
                                   's',  0x92, 0xa1, 'a',  0xa0, 0xab, 'c', 'o', 'n',
                                   'c',  'u',  'r',  'r',  'e',  'n',  'c', 'y', 0x01};
    struct rs_msg m;
    struct rs_error err;
    cr_assert_eq(decode_body(body, sizeof(body), &m, &err), RS_E_BAD_VALUE);
    cr_expect_str_eq(err.message, "REGISTER.names[1]: length out of range (1..255)");
}

/* ACK release: round trips alone; with any part of an outcome neither side takes it. */
Test(msg, ack_release)
{
    struct rs_msg in = {.type = RS_MSG_ACK,
                        .u.ack = {.has = RS_HAS_RELEASE, .job = 7, .attempt = 2, .release = true}},
                  out;
    struct rs_buf b;
    rs_buf_init(&b, 0);
    encode_ok(&b, &in);
    decode_ok(&out, &b);
    cr_expect_eq(out.u.ack.has, RS_HAS_RELEASE);
    cr_expect_eq(out.u.ack.release, true);
    cr_expect_eq(out.u.ack.ok, false);
    cr_expect_null(out.u.ack.error.ptr);
    rs_msg_free(&out);

    struct rs_ack bad[] = {
        {.has = RS_HAS_RELEASE, .job = 7, .attempt = 2, .ok = true, .release = true},
        {.has = RS_HAS_RELEASE, .job = 7, .attempt = 2, .release = true, .result = BYTES(RESULT)},
        {.has = RS_HAS_RELEASE, .job = 7, .attempt = 2, .release = true, .error = RS_STR("x")},
        {.has = RS_HAS_RELEASE | RS_HAS_RETRYABLE, .job = 7, .attempt = 2, .release = true},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        in.u.ack = bad[i];
        rs_buf_reset(&b);
        cr_expect_eq(rs_msg_encode(&b, &in), RS_E_BAD_VALUE, "case %zu", i);
        cr_expect_eq(b.len, 0);
    }
    /* release false is no release: an outcome may come with it */
    in.u.ack = (struct rs_ack){.has = RS_HAS_RELEASE, .job = 7, .attempt = 2, .ok = true};
    rs_buf_reset(&b);
    encode_ok(&b, &in);
    rs_buf_free(&b);
}

Test(msg, ack_error_text_limit)
{
    char *text = malloc(RS_MAX_ERROR + 1);
    memset(text, 'e', RS_MAX_ERROR + 1);
    struct rs_msg m = {.type = RS_MSG_ACK,
                       .u.ack = {.job = 1, .attempt = 1, .error = {text, RS_MAX_ERROR}}},
                  out;
    struct rs_buf b;
    rs_buf_init(&b, 0);
    encode_ok(&b, &m);
    decode_ok(&out, &b);
    cr_expect_eq(out.u.ack.error.len, RS_MAX_ERROR);
    rs_msg_free(&out);

    m.u.ack.error.len = RS_MAX_ERROR + 1;
    rs_buf_reset(&b);
    cr_expect_eq(rs_msg_encode(&b, &m), RS_E_BAD_VALUE);

    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint64(&pk, RS_MSG_ACK);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_map(&pk, 4);
    pack_text(&pk, "job", 3);
    msgpack_pack_uint64(&pk, 1);
    pack_text(&pk, "attempt", 7);
    msgpack_pack_uint64(&pk, 1);
    pack_text(&pk, "ok", 2);
    msgpack_pack_false(&pk);
    pack_text(&pk, "error", 5);
    pack_text(&pk, text, RS_MAX_ERROR + 1);
    struct rs_error err;
    cr_expect_eq(decode_sbuffer(&sb, &err), RS_E_BAD_VALUE);
    cr_expect_str_eq(err.message, "ACK.error: length out of range (0..65536)");
    msgpack_sbuffer_destroy(&sb);
    rs_buf_free(&b);
    free(text);
}

/* Encoding m must fail with want and leave the buffer's bytes exactly as they were. */
static void expect_refused(const struct rs_msg *m, enum rs_code want, const char *what)
{
    struct rs_buf b;
    rs_buf_init(&b, 0);
    cr_assert_eq(rs_buf_append(&b, "prefix", 6), 0);
    enum rs_code rc = rs_msg_encode(&b, m);
    cr_expect_eq(rc, want, "%s: got %s", what, rs_code_name(rc) ? rs_code_name(rc) : "ok");
    cr_expect_eq(b.len, 6, "%s: buffer changed", what);
    cr_expect_eq(memcmp(b.data, "prefix", 6), 0, "%s: buffer bytes changed", what);
    rs_buf_free(&b);
}

/* An ENQUEUE of name n with one change applied by the caller. */
static struct rs_msg enqueue_named(struct rs_str n)
{
    return (struct rs_msg){.type = RS_MSG_ENQUEUE, .u.enqueue.name = n};
}

Test(msg, encoder_refuses_what_the_decoder_rejects)
{
    static char long_name[RS_MAX_NAME + 1];
    memset(long_name, 'n', sizeof(long_name));
    struct rs_msg m;

    expect_refused(&(struct rs_msg){.type = (enum rs_msg_type)0x42}, RS_E_BAD_VALUE,
                   "unknown type");
    expect_refused(&(struct rs_msg){.type = RS_MSG_ENQUEUE}, RS_E_BAD_VALUE, "no name");
    expect_refused(&(struct rs_msg){.type = RS_MSG_ERROR, .u.error.message = RS_STR("m")},
                   RS_E_BAD_VALUE, "ERROR without code");
    m = enqueue_named(RS_STR(""));
    expect_refused(&m, RS_E_BAD_VALUE, "empty name");
    m = enqueue_named((struct rs_str){long_name, RS_MAX_NAME + 1});
    expect_refused(&m, RS_E_BAD_VALUE, "name of 256 bytes");
    m = enqueue_named(RS_STR("a\xed\xa0\x80"));
    expect_refused(&m, RS_E_BAD_VALUE, "surrogate in name");
    m = enqueue_named((struct rs_str){"a\0b", 3});
    expect_refused(&m, RS_E_BAD_VALUE, "NUL in name");

    m = enqueue_named(RS_STR("n"));
    m.u.enqueue.has = RS_HAS_MAX_ATTEMPTS;
    expect_refused(&m, RS_E_BAD_VALUE, "max_attempts 0");
    m = enqueue_named(RS_STR("n"));
    m.u.enqueue.has = RS_HAS_JITTER;
    m.u.enqueue.jitter = NAN;
    expect_refused(&m, RS_E_BAD_VALUE, "jitter NaN");
    m.u.enqueue.jitter = 1.5;
    expect_refused(&m, RS_E_BAD_VALUE, "jitter 1.5");
    m = enqueue_named(RS_STR("n"));
    m.u.enqueue.has = RS_HAS_RUN_AT | RS_HAS_DELAY;
    expect_refused(&m, RS_E_BAD_VALUE, "run_at with delay_ms");
    m = enqueue_named(RS_STR("n"));
    m.u.enqueue.has_backoff = true;
    m.u.enqueue.backoff = (enum rs_backoff)7;
    expect_refused(&m, RS_E_BAD_VALUE, "backoff out of the enum");
    m = full_msg(RS_MSG_DISPATCH);
    m.u.dispatch.args = (struct rs_bytes){NULL, 5};
    expect_refused(&m, RS_E_BAD_VALUE, "required args with a length but no pointer");

    m = (struct rs_msg){.type = RS_MSG_REGISTER, .u.reg = {register_names, 0, 1}};
    expect_refused(&m, RS_E_BAD_VALUE, "REGISTER with no names");
    m.u.reg = (struct rs_register){NULL, 1, 1};
    expect_refused(&m, RS_E_BAD_VALUE, "REGISTER names NULL");
    m.u.reg = (struct rs_register){register_names, 1, RS_MAX_CONCURRENCY + 1};
    expect_refused(&m, RS_E_BAD_VALUE, "concurrency above the limit");
    m.u.ack =
        (struct rs_ack){.has = RS_HAS_RELEASE, .job = 1, .attempt = 1, .ok = true, .release = true};
    m.type = RS_MSG_ACK;
    expect_refused(&m, RS_E_BAD_VALUE, "ACK release with ok true");
    m.type = RS_MSG_REGISTER;
    m.u.reg = (struct rs_register){register_names, RS_MAX_REGISTER + 1, 1};
    expect_refused(&m, RS_E_BAD_VALUE, "257 names");

    m = full_msg(RS_MSG_COMPLETED);
    m.u.completed.status = RS_STATUS_PENDING;
    expect_refused(&m, RS_E_BAD_VALUE, "COMPLETED pending");
    m = full_msg(RS_MSG_WELCOME);
    m.u.welcome.max_frame = RS_MAX_FRAME_MIN - 1;
    expect_refused(&m, RS_E_BAD_VALUE, "WELCOME max_frame 4095");
    m = full_msg(RS_MSG_JOBS);
    jobs_storage[1].name = RS_STR("");
    expect_refused(&m, RS_E_BAD_VALUE, "JOBS with a nameless job");
    m = full_msg(RS_MSG_LIST);
    m.u.list.limit = 0;
    expect_refused(&m, RS_E_BAD_VALUE, "LIST limit 0");
}

Test(msg, encoder_reports_a_full_buffer_as_limit)
{
    struct rs_msg m = full_msg(RS_MSG_ENQUEUE);
    struct rs_buf b;
    rs_buf_init(&b, 40);
    cr_assert_eq(rs_buf_append(&b, "abc", 3), 0);
    cr_expect_eq(rs_msg_encode(&b, &m), RS_E_LIMIT);
    cr_expect_eq(b.len, 3);
    cr_expect_eq(memcmp(b.data, "abc", 3), 0);
    rs_buf_free(&b);
}

Test(msg, frames_append_after_each_other)
{
    struct rs_buf b;
    rs_buf_init(&b, 0);
    struct rs_msg ping = {.type = RS_MSG_PING, .request_id = 1};
    encode_ok(&b, &ping);
    cr_assert_eq(rs_msg_encode(&b, &ping), RS_OK);
    static const uint8_t two[] = {0, 0, 0, 4, 0x93, 0x04, 0x01, 0x80,
                                  0, 0, 0, 4, 0x93, 0x04, 0x01, 0x80};
    cr_expect_eq(b.len, sizeof(two));
    cr_expect_eq(memcmp(b.data, two, sizeof(two)), 0);
    rs_buf_free(&b);
}

/* A PING whose unknown field x holds an array of n nils: n + 6 values in all. */
static uint8_t *ping_with_nils(size_t n, size_t *len)
{
    uint8_t *p = malloc(n + 16);
    size_t k = 0;
    const uint8_t head[] = {0x93, 0x04, 0x01, 0x81, 0xa1, 'x', 0xdd};
    memcpy(p, head, sizeof(head));
    k = sizeof(head);
    p[k++] = (uint8_t)(n >> 24);
    p[k++] = (uint8_t)(n >> 16);
    p[k++] = (uint8_t)(n >> 8);
    p[k++] = (uint8_t)n;
    memset(p + k, 0xc0, n);
    *len = k + n;
    return p;
}

Test(msg, value_count_limit)
{
    struct rs_msg m;
    struct rs_error err;
    size_t len;
    uint8_t *p = ping_with_nils(RS_MAX_OBJECTS - 6, &len);
    cr_expect_eq(decode_body(p, len, &m, &err), RS_OK, "65,536 values are allowed: %s",
                 err.message);
    free(p);
    p = ping_with_nils(RS_MAX_OBJECTS - 5, &len);
    cr_expect_eq(decode_body(p, len, &m, &err), RS_E_TOO_MANY);
    free(p);

    struct rs_limits lim = {.max_depth = RS_MAX_DEPTH, .max_objects = 4};
    static const uint8_t four[] = {0x93, 0x04, 0x01, 0x80};
    static const uint8_t six[] = {0x93, 0x04, 0x01, 0x81, 0xa1, 'a', 0x01};
    cr_expect_eq(rs_msg_decode(&m, four, sizeof(four), &lim, &err), RS_OK);
    rs_msg_free(&m);
    cr_expect_eq(rs_msg_decode(&m, six, sizeof(six) - 1, &lim, &err), RS_E_TOO_MANY);
}

Test(msg, depth_limit_and_its_cap)
{
    uint8_t deep[RS_LIMIT_DEPTH_CAP + 1];
    struct rs_limits lim = {.max_depth = 1000, .max_objects = RS_MAX_OBJECTS};
    /* msgpack-c itself cannot go deeper; the walk must stop anything it would refuse */
    struct rs_msg m;
    struct rs_error err;

    memset(deep, 0x91, RS_LIMIT_DEPTH_CAP - 1);
    deep[RS_LIMIT_DEPTH_CAP - 1] = 0x90; /* 32 nested arrays */
    cr_expect_eq(rs_msg_decode(&m, deep, RS_LIMIT_DEPTH_CAP, &lim, &err), RS_E_BAD_ENVELOPE,
                 "depth 32 passes the walk and msgpack-c: %s", err.message);
    memset(deep, 0x91, RS_LIMIT_DEPTH_CAP);
    deep[RS_LIMIT_DEPTH_CAP] = 0x90; /* 33 */
    cr_expect_eq(rs_msg_decode(&m, deep, sizeof(deep), &lim, &err), RS_E_TOO_DEEP);

    lim.max_depth = 2;
    static const uint8_t three[] = {0x93, 0x04, 0x01, 0x81, 0xa1, 'x', 0x90};
    static const uint8_t two[] = {0x93, 0x04, 0x01, 0x81, 0xa1, 'x', 0x01};
    cr_expect_eq(rs_msg_decode(&m, three, sizeof(three), &lim, &err), RS_E_TOO_DEEP);
    cr_expect_eq(rs_msg_decode(&m, two, sizeof(two), &lim, &err), RS_OK);
    rs_msg_free(&m);
}

Test(msg, empty_body_is_malformed)
{
    struct rs_msg m;
    struct rs_error err;
    cr_expect_eq(decode_body(NULL, 0, &m, &err), RS_E_MALFORMED);
    cr_expect_neq(err.message[0], '\0');
}

Test(msg, free_is_safe_on_zeroed_and_freed_messages)
{
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    rs_msg_free(&m);
    struct rs_msg in = full_msg(RS_MSG_REGISTER);
    struct rs_buf b;
    rs_buf_init(&b, 0);
    encode_ok(&b, &in);
    decode_ok(&m, &b);
    cr_expect_eq(m.u.reg.nnames, 3);
    rs_msg_free(&m);
    rs_msg_free(&m);
    cr_expect_null(m.u.reg.names);
    rs_buf_free(&b);
}

Test(codes, names_round_trip)
{
    for (int c = RS_OK + 1; c < RS_CODE_COUNT; c++) {
        const char *name = rs_code_name((enum rs_code)c);
        cr_assert_not_null(name, "code %d has no name", c);
        enum rs_code back = rs_code_from_name(name, strlen(name));
        cr_expect_eq((int)back, c == RS_E_NOSPACE ? (int)RS_E_INTERNAL : c, "%s", name);
    }
    cr_expect_null(rs_code_name(RS_OK));
    cr_expect_null(rs_code_name(RS_CODE_COUNT));
    cr_expect_str_eq(rs_code_name(RS_E_TOO_MANY), "too_many_elements");
    cr_expect_eq(rs_code_from_name("bogus", 5), RS_E_INTERNAL);
    cr_expect_eq(rs_code_from_name("malformed", 8), RS_E_INTERNAL, "a prefix is not a name");
}

Test(codes, type_and_enum_names)
{
    cr_expect_str_eq(rs_msg_type_name(RS_MSG_ENQUEUE), "ENQUEUE");
    cr_expect_str_eq(rs_msg_type_name(RS_MSG_JOBS), "JOBS");
    const int unknown[] = {-1, 0, 7, 0x0f, 0x28, 0x100, 1 << 20};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
        cr_expect_null(rs_msg_type_name(unknown[i]), "type %d", unknown[i]);
    for (int i = 0; i < NTYPES; i++)
        cr_expect_not_null(rs_msg_type_name((int)all_types[i]));

    for (int s = RS_STATUS_PENDING; s <= RS_STATUS_CANCELLED; s++) {
        const char *n = rs_status_name((enum rs_status)s);
        cr_expect_eq(rs_status_parse(n, strlen(n)), s);
    }
    for (int v = RS_BACKOFF_EXPONENTIAL; v <= RS_BACKOFF_LINEAR; v++) {
        const char *n = rs_backoff_name((enum rs_backoff)v);
        cr_expect_eq(rs_backoff_parse(n, strlen(n)), v);
    }
    for (int v = RS_ABANDON_TIMEOUT; v <= RS_ABANDON_SHUTDOWN; v++) {
        const char *n = rs_abandon_reason_name((enum rs_abandon_reason)v);
        cr_expect_eq(rs_abandon_reason_parse(n, strlen(n)), v);
    }
    cr_expect_str_eq(rs_backoff_name(RS_BACKOFF_EXPONENTIAL), "exponential");
    cr_expect_eq(rs_backoff_parse("Linear", 6), -1);
    cr_expect_eq(rs_status_parse("dea", 3), -1);
    cr_expect_null(rs_status_name((enum rs_status)9));
}

/* A second UTF-8 validator, by a different method: decode the code point, then judge it. */
static bool reference_utf8(const uint8_t *p, size_t n)
{
    static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t i = 0;
    while (i < n) {
        uint8_t b = p[i];
        size_t len = b < 0x80             ? 1
                     : (b & 0xe0) == 0xc0 ? 2
                     : (b & 0xf0) == 0xe0 ? 3
                     : (b & 0xf8) == 0xf0 ? 4
                                          : 0;
        if (len == 0 || len > n - i)
            return false;
        uint32_t cp = len == 1 ? b : b & (0x7fu >> len);
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3fu);
        }
        if (len > 1 && (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)))
            return false;
        i += len;
    }
    return true;
}

Test(utf8, agrees_with_a_reference_on_every_short_sequence)
{
    uint8_t s[4];
    for (uint32_t v = 0; v < (1u << 24); v++) {
        s[0] = (uint8_t)(v >> 16);
        s[1] = (uint8_t)(v >> 8);
        s[2] = (uint8_t)v;
        for (size_t n = 1; n <= 3; n++) {
            if (n < 3 && (v >> (8 * n)) != 0)
                continue; /* shorter strings only once each */
            const uint8_t *p = s + 3 - n;
            if (utf8_valid(p, n) != reference_utf8(p, n))
                cr_assert_fail("disagree on %u bytes %06x", (unsigned)n, (unsigned)v);
        }
    }
    static const uint8_t edge[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0xbf, 0xc0, 0xff};
    for (uint32_t lead = 0xe0; lead <= 0xff; lead++)
        for (uint32_t b2 = 0; b2 < 256; b2++)
            for (size_t i = 0; i < sizeof(edge); i++)
                for (size_t j = 0; j < sizeof(edge); j++) {
                    s[0] = (uint8_t)lead, s[1] = (uint8_t)b2, s[2] = edge[i], s[3] = edge[j];
                    if (utf8_valid(s, 4) != reference_utf8(s, 4))
                        cr_assert_fail("disagree on %02x %02x %02x %02x", s[0], s[1], s[2], s[3]);
                }
    cr_expect(utf8_valid((const uint8_t *)"\xf4\x8f\xbf\xbf", 4), "U+10FFFF is valid");
    cr_expect(!utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4), "U+110000 is not");
    cr_expect(!utf8_valid((const uint8_t *)"\xed\xa0\x80", 3), "a surrogate is not");
    cr_expect(!utf8_valid((const uint8_t *)"\xc0\x80", 2), "an overlong NUL is not");
}
