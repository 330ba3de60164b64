/*
 * The `reseolio` binary against the real reseoliod on a fresh PostgreSQL database per test:
 * every jobs command and status, their JSON parsed and checked, their text looked at, their
 * failures' exit statuses; arguments through a real worker (libreseolio) and back.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <math.h>
#include <msgpack.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "clirun.h"
#include "daemon_proc.h"
#include "pgtest.h"
#include "reseolio.h"

static struct daemon_proc dmn;
static char *db;

/* A daemon on a database of this test's own. */
static void start(void)
{
    db = pgtest_create_db("cli");
    cr_assert_not_null(db);
    const char *args[] = {"--storage", db, NULL};
    struct daemon_opts o = {.args = args};
    cr_assert_eq(daemon_proc_init(&dmn), 0);
    cr_assert_eq(daemon_proc_start(&dmn, &o), 0, "reseoliod did not get ready");
}

static void stop(void)
{
    int st = daemon_proc_stop(&dmn);
    daemon_proc_cleanup(&dmn);
    free(db);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "reseoliod exit status %#x", st);
}

TestSuite(cli_jobs, .init = start, .fini = stop, .timeout = 120);

/* Run reseolio against this test's daemon (--socket first, then the arguments). */
#define RUN(r, ...)                                                                                \
    clirun_argv((r), (const char *const[]){"--socket", dmn.socket, __VA_ARGS__, NULL}, NULL)

/* Run reseolio with --json; it must succeed; returns its document. */
#define RUN_JSON(...)                                                                              \
    run_json((const char *const[]){"--socket", dmn.socket, "--json", __VA_ARGS__, NULL})

static json_t *run_json(const char *const *argv)
{
    struct clirun r;
    clirun_argv(&r, argv, NULL);
    clirun_expect_ok(&r);
    cr_assert_eq(r.status, 0, "reseolio %s %s failed: %s", argv[3], argv[4], r.err);
    json_t *j = clirun_json(&r);
    clirun_free(&r);
    return j;
}

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    cr_assert_not_null(j, "bad JSON in the test (%s): %s", e.text, text);
    return j;
}

/* A JSON value's text, for messages. */
static char *show(const json_t *j)
{
    char *s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
    cr_assert_not_null(s);
    return s;
}

static void expect_json_eq(const json_t *got, const json_t *want, const char *what)
{
    if (json_equal(got, want))
        return;
    char *g = show(got), *w = show(want);
    cr_expect_fail("%s: got %s, want %s", what, g, w);
    free(g);
    free(w);
}

/* Expect got to equal the JSON of text. */
static void expect_json_text(const json_t *got, const char *text, const char *what)
{
    json_t *want = parse(text);
    expect_json_eq(got, want, what);
    json_decref(want);
}

/* jobs enqueue NAME --args ARGS [more options] --json; returns the job id. */
static uint64_t enqueue(const char *name, const char *args, const char *const *more)
{
    const char *argv[24] = {"--socket", dmn.socket, "--json", "jobs",
                            "enqueue",  name,       "--args", args};
    size_t n = 8;
    for (; more != NULL && *more != NULL && n < 23; more++)
        argv[n++] = *more;
    argv[n] = NULL;
    json_t *j = run_json(argv);
    json_int_t id = json_integer_value(json_object_get(j, "job"));
    cr_assert_gt(id, 0);
    cr_expect(json_is_false(json_object_get(j, "deduplicated")));
    json_decref(j);
    return (uint64_t)id;
}

/* Options that keep a job pending for the whole test. */
static const char *const later[] = {"--delay", "3600000", NULL};

static char *id_text(uint64_t id, char buf[24])
{
    snprintf(buf, 24, "%" PRIu64, id);
    return buf;
}

/* ---- a worker on a thread of its own (libreseolio, as any application) ---- */

struct worker {
    struct rs_client *c;
    pthread_t thread;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    enum rs_client_status st = rs_worker_run(w->c);
    return (void *)(intptr_t)st;
}

/* cli:echo returns its args as its result, byte for byte. */
static int handle_echo(struct rs_job_ctx *job, void *user)
{
    (void)user;
    size_t len;
    const uint8_t *args = rs_job_args(job, &len);
    return rs_job_set_result(job, args, len) == RS_CLIENT_OK ? 0 : -1;
}

/* cli:fail fails for good. */
static int handle_fail(struct rs_job_ctx *job, void *user)
{
    (void)user;
    size_t len;
    (void)rs_job_args(job, &len);
    return rs_job_set_error(job, false, "no luck with %zu bytes of args", len);
}

static void worker_start(struct worker *w)
{
    char *err = NULL;
    cr_assert_eq(rs_client_connect(dmn.socket, NULL, &w->c, &err), RS_CLIENT_OK, "%s", err);
    cr_assert_eq(rs_worker_register(w->c, "cli:echo", handle_echo, NULL), RS_CLIENT_OK);
    cr_assert_eq(rs_worker_register(w->c, "cli:fail", handle_fail, NULL), RS_CLIENT_OK);
    cr_assert_eq(pthread_create(&w->thread, NULL, worker_main, w), 0);
}

static void worker_end(struct worker *w)
{
    rs_worker_stop(w->c);
    void *st;
    pthread_join(w->thread, &st);
    cr_expect_eq((intptr_t)st, RS_CLIENT_OK);
    rs_client_close(w->c);
}

/* A client of the test's own, to enqueue exact bytes and read them back. */
static struct rs_client *client(void)
{
    struct rs_client *c = NULL;
    char *err = NULL;
    cr_assert_eq(rs_client_connect(dmn.socket, NULL, &c, &err), RS_CLIENT_OK, "%s", err);
    return c;
}

/* The args bytes of a job, as the daemon holds them. Caller frees *out. */
static size_t job_args(uint64_t id, uint8_t **out)
{
    struct rs_client *c = client();
    struct rs_job_info *j = NULL;
    cr_assert_eq(rs_get(c, id, &j), RS_CLIENT_OK, "%s", rs_client_errmsg(c));
    size_t len = j->args_len;
    *out = malloc(len + 1);
    memcpy(*out, j->args, len);
    rs_job_info_free(j);
    rs_client_close(c);
    return len;
}

/* ---- the tests ---- */

/* Arguments of every kind go in as JSON, through a worker that echoes them as its result,
 * and come back the same from jobs await and jobs show. */
Test(cli_jobs, json_args_round_trip_through_a_worker)
{
    static const char args[] =
        "[1, -2, 0.5, 0.1, 1e300, \"h\\u00e9llo\", \"\", true, null, {\"$bin\": \"00ff10\"},"
        " [1, [2, [3]]], {\"k\": \"v\", \"n\": {\"$uint\": \"18446744073709551615\"}},"
        " {\"$float\": \"Infinity\"}, {\"$map\": [[1, \"one\"], [{\"$bin\": \"01\"}, null]]},"
        " {\"$map\": [[\"$bin\", \"not a tag\"]]}, {\"$ext\": [7, \"abcd\"]},"
        " {\"$str_hex\": \"ff41\"}, \"nul\\u0000inside\", -9223372036854775808]";
    json_t *want = parse(args);
    struct worker w;
    worker_start(&w);
    uint64_t id = enqueue("cli:echo", args, NULL);
    char idb[24];

    json_t *done = RUN_JSON("jobs", "await", id_text(id, idb), "--timeout", "30000");
    cr_expect_eq(json_integer_value(json_object_get(done, "job")), (json_int_t)id);
    cr_expect_str_eq(json_string_value(json_object_get(done, "status")), "success");
    cr_expect_eq(json_integer_value(json_object_get(done, "attempt")), 1);
    cr_expect(json_is_null(json_object_get(done, "error")));
    expect_json_eq(json_object_get(done, "result"), want, "await result");
    json_decref(done);

    json_t *job = RUN_JSON("jobs", "show", idb);
    cr_expect_eq(json_integer_value(json_object_get(job, "id")), (json_int_t)id);
    cr_expect_str_eq(json_string_value(json_object_get(job, "name")), "cli:echo");
    cr_expect_str_eq(json_string_value(json_object_get(job, "status")), "success");
    cr_expect_eq(json_integer_value(json_object_get(job, "attempt")), 1);
    cr_expect_eq(json_integer_value(json_object_get(job, "max_attempts")), 3);
    cr_expect_eq(json_integer_value(json_object_get(job, "priority")), 0);
    cr_expect(json_is_null(json_object_get(job, "key")));
    cr_expect(json_is_null(json_object_get(job, "error")));
    json_int_t created = json_integer_value(json_object_get(job, "created_at"));
    json_int_t started = json_integer_value(json_object_get(job, "started_at"));
    json_int_t finished = json_integer_value(json_object_get(job, "finished_at"));
    cr_expect(created > 0 && started >= created && finished >= started, "%lld %lld %lld",
              (long long)created, (long long)started, (long long)finished);
    cr_expect_geq(json_integer_value(json_object_get(job, "run_at")), created);
    expect_json_eq(json_object_get(job, "args"), want, "show args");
    expect_json_eq(json_object_get(job, "result"), want, "show result");
    json_decref(job);

    /* The text forms carry the same values, one line each. */
    struct clirun r;
    RUN(&r, "jobs", "show", idb);
    clirun_expect_ok(&r);
    cr_expect(strstr(r.out, "status     success\n") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "function   cli:echo\n") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "attempts   1 of 3\n") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "args       [1, -2, 0.5, 0.1, 1e300, \"h\xc3\xa9llo\"") != NULL, "%s",
              r.out);
    cr_expect(strstr(r.out, "result     [1, -2, 0.5,") != NULL, "%s", r.out);
    clirun_free(&r);
    RUN(&r, "jobs", "await", idb);
    clirun_expect_ok(&r);
    cr_expect(strncmp(r.out, "job ", 4) == 0 && strstr(r.out, " succeeded (attempt 1): [1, -2,"),
              "%s", r.out);
    clirun_free(&r);
    json_decref(want);
    worker_end(&w);
}

/* --args becomes one MessagePack array, in the smallest encodings, byte for byte. */
Test(cli_jobs, args_are_encoded_as_one_messagepack_array)
{
    uint64_t id =
        enqueue("cli:bytes", "[1, \"a\", {\"$bin\": \"00ff\"}, 0.5, -1, {\"k\": 300}]", later);
    static const uint8_t want[] = {0x96, 0x01, 0xa1, 'a',  0xc4, 0x02, 0x00, 0xff,
                                   0xcb, 0x3f, 0xe0, 0,    0,    0,    0,    0,
                                   0,    0xff, 0x81, 0xa1, 'k',  0xcd, 0x01, 0x2c};
    uint8_t *got;
    size_t len = job_args(id, &got);
    cr_expect_eq(len, sizeof(want));
    cr_expect(len == sizeof(want) && memcmp(got, want, len) == 0, "args bytes differ");
    free(got);
}

/* What other clients may send: every MessagePack form has a JSON form in jobs show. */
static size_t pack_everything(msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 13);
    msgpack_pack_str_with_body(&pk, "\xff\xfe", 2); /* not UTF-8 */
    msgpack_pack_map(&pk, 2);                       /* a key that is no string */
    msgpack_pack_int(&pk, 1);
    msgpack_pack_str_with_body(&pk, "a", 1);
    msgpack_pack_str_with_body(&pk, "b", 1);
    msgpack_pack_int(&pk, 2);
    msgpack_pack_map(&pk, 2); /* one key twice */
    msgpack_pack_str_with_body(&pk, "x", 1);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_str_with_body(&pk, "x", 1);
    msgpack_pack_int(&pk, 2);
    msgpack_pack_map(&pk, 1); /* one key that reads like a tag */
    msgpack_pack_str_with_body(&pk, "$bin", 4);
    msgpack_pack_str_with_body(&pk, "00", 2);
    msgpack_pack_map(&pk, 2); /* "$" keys among others are plain */
    msgpack_pack_str_with_body(&pk, "$x", 2);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_str_with_body(&pk, "y", 1);
    msgpack_pack_int(&pk, 2);
    msgpack_pack_uint64(&pk, UINT64_MAX);
    msgpack_pack_int64(&pk, INT64_MIN);
    msgpack_pack_double(&pk, NAN);
    msgpack_pack_double(&pk, -INFINITY);
    msgpack_pack_ext_with_body(&pk, "\x00\x00\x00\x01", 4, -1);
    msgpack_pack_bin_with_body(&pk, "", 0);
    msgpack_pack_str_with_body(&pk, "a\0b", 3);
    msgpack_pack_map(&pk, 0);
    return sb->size;
}

static const char everything_json[] =
    "[{\"$str_hex\": \"fffe\"}, {\"$map\": [[1, \"a\"], [\"b\", 2]]},"
    " {\"$map\": [[\"x\", 1], [\"x\", 2]]}, {\"$map\": [[\"$bin\", \"00\"]]},"
    " {\"$x\": 1, \"y\": 2}, {\"$uint\": \"18446744073709551615\"}, -9223372036854775808,"
    " {\"$float\": \"NaN\"}, {\"$float\": \"-Infinity\"}, {\"$ext\": [-1, \"00000001\"]},"
    " {\"$bin\": \"\"}, \"a\\u0000b\", {}]";

/* Enqueue raw bytes with libreseolio (kept pending); returns the id. */
static uint64_t enqueue_bytes(const void *p, size_t len)
{
    struct rs_client *c = client();
    struct rs_enqueue_opts o;
    rs_enqueue_opts_init(&o);
    o.delay_ms = 3600000;
    struct rs_enqueue_result r;
    cr_assert_eq(rs_enqueue(c, "cli:raw", p, len, &o, &r), RS_CLIENT_OK, "%s", rs_client_errmsg(c));
    rs_client_close(c);
    return r.job;
}

/* jobs show --json's "args" of job id. Caller decrefs. */
static json_t *shown_args(uint64_t id)
{
    char idb[24];
    json_t *job = RUN_JSON("jobs", "show", id_text(id, idb));
    json_t *args = json_incref(json_object_get(job, "args"));
    json_decref(job);
    return args;
}

Test(cli_jobs, show_decodes_any_messagepack_and_enqueue_reads_it_back)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    size_t len = pack_everything(&sb);
    uint64_t id = enqueue_bytes(sb.data, len);
    json_t *args = shown_args(id);
    json_t *want = parse(everything_json);
    expect_json_eq(args, want, "decoded args");

    /* What jobs show printed, given to jobs enqueue, is the same MessagePack again. */
    char *text = show(args);
    uint64_t again = enqueue("cli:raw", text, later);
    uint8_t *bytes;
    size_t got = job_args(again, &bytes);
    cr_expect(got == len && memcmp(bytes, sb.data, len) == 0, "re-encoded args differ (%zu, %zu)",
              got, len);
    free(bytes);
    free(text);
    json_decref(want);
    json_decref(args);
    msgpack_sbuffer_destroy(&sb);
}

/* Bytes that are not one MessagePack value are shown as hex, never trusted. */
Test(cli_jobs, show_bytes_that_are_not_one_value)
{
    static const struct {
        const char *bytes;
        size_t len;
        const char *json;
    } cases[] = {
        {"\xc1", 1, "{\"$raw\": \"c1\"}"},                         /* never-used tag */
        {"\xdd\xff\xff\xff\xff", 5, "{\"$raw\": \"ddffffffff\"}"}, /* 4G elements declared */
        {"\x01\x02", 2, "{\"$raw\": \"0102\"}"},                   /* two values */
        {"\x92\x01", 2, "{\"$raw\": \"9201\"}"},                   /* cut short */
        {"\xd9\x05hi", 4, "{\"$raw\": \"d9056869\"}"},             /* str longer than the bytes */
        {"", 0, "null"},                                           /* no args at all */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *args = shown_args(enqueue_bytes(cases[i].bytes, cases[i].len));
        json_t *want = parse(cases[i].json);
        expect_json_eq(args, want, cases[i].json);
        json_decref(want);
        json_decref(args);
    }
    /* 32 nested arrays are shown; 33 are more than msgpack-c reads, hence raw. */
    uint8_t deep[33];
    memset(deep, 0x91, sizeof(deep)); /* [x] around [x] ... around [] */
    deep[31] = 0x90;
    json_t *args = shown_args(enqueue_bytes(deep, 32));
    char *text = show(args);
    cr_expect(strspn(text, "[") == 32 && strlen(text) == 64, "%s", text);
    free(text);
    json_decref(args);
    deep[31] = 0x91;
    deep[32] = 0x90;
    args = shown_args(enqueue_bytes(deep, 33));
    cr_expect(json_object_get(args, "$raw") != NULL);
    json_decref(args);
}

/* The ids of a jobs list document's "jobs", in order. Returns how many. */
static size_t list_ids(const json_t *doc, uint64_t *ids, size_t max)
{
    const json_t *jobs = json_object_get(doc, "jobs");
    cr_assert(json_is_array(jobs));
    size_t n = json_array_size(jobs);
    cr_assert_leq(n, max);
    for (size_t i = 0; i < n; i++)
        ids[i] = (uint64_t)json_integer_value(json_object_get(json_array_get(jobs, i), "id"));
    return n;
}

/* Expect a list document with exactly these ids, in this order. */
static void expect_ids(const json_t *doc, const uint64_t *want, size_t n, const char *what)
{
    uint64_t got[16];
    size_t k = list_ids(doc, got, 16);
    cr_expect_eq(k, n, "%s: %zu jobs, expected %zu", what, k, n);
    for (size_t i = 0; i < k && i < n; i++)
        cr_expect_eq(got[i], want[i], "%s: job %zu is %" PRIu64 ", expected %" PRIu64, what, i,
                     got[i], want[i]);
}

/* Count the lines of text. */
static int lines(const char *s)
{
    int n = 0;
    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

Test(cli_jobs, list_filters_and_pages)
{
    uint64_t a[5], b[3];
    for (int i = 0; i < 5; i++)
        a[i] = enqueue("cli:a", "[1]", later);
    for (int i = 0; i < 3; i++)
        b[i] = enqueue("cli:b", "[2]", later);
    char idb[24];
    struct clirun r;
    RUN(&r, "jobs", "cancel", id_text(b[1], idb));
    clirun_expect_ok(&r);
    clirun_free(&r);
    const uint64_t all[] = {b[2], b[1], b[0], a[4], a[3], a[2], a[1], a[0]};

    json_t *doc = RUN_JSON("jobs", "list");
    expect_ids(doc, all, 8, "all");
    cr_expect(json_is_null(json_object_get(doc, "next")));
    json_t *first = json_array_get(json_object_get(doc, "jobs"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(first, "name")), "cli:b");
    expect_json_text(json_object_get(first, "args"), "[2]", "args in a list");
    json_decref(doc);

    doc = RUN_JSON("jobs", "list", "--name", "cli:b");
    expect_ids(doc, all, 3, "--name");
    json_decref(doc);
    doc = RUN_JSON("jobs", "list", "--status", "cancelled");
    expect_ids(doc, (uint64_t[]){b[1]}, 1, "--status");
    json_decref(doc);
    doc = RUN_JSON("jobs", "list", "--status", "pending", "--name", "cli:b");
    expect_ids(doc, (uint64_t[]){b[2], b[0]}, 2, "--status and --name");
    json_decref(doc);
    doc = RUN_JSON("jobs", "list", "--name", "nobody");
    expect_ids(doc, NULL, 0, "no match");
    cr_expect(json_is_null(json_object_get(doc, "next")));
    json_decref(doc);

    /* Pages chain through their cursors and cover every job once. */
    doc = RUN_JSON("jobs", "list", "--limit", "3");
    expect_ids(doc, all, 3, "page 1");
    char cursor[24];
    id_text((uint64_t)json_integer_value(json_object_get(doc, "next")), cursor);
    cr_expect(json_is_integer(json_object_get(doc, "next")));
    json_decref(doc);
    doc = RUN_JSON("jobs", "list", "--limit", "3", "--after", cursor);
    expect_ids(doc, all + 3, 3, "page 2");
    id_text((uint64_t)json_integer_value(json_object_get(doc, "next")), cursor);
    json_decref(doc);
    doc = RUN_JSON("jobs", "list", "--after", cursor);
    expect_ids(doc, all + 6, 2, "page 3");
    cr_expect(json_is_null(json_object_get(doc, "next")));
    json_decref(doc);
    doc = RUN_JSON("jobs", "list", "--all");
    expect_ids(doc, all, 8, "--all");
    json_decref(doc);

    /* Options after the command work too. */
    clirun_argv(&r, (const char *const[]){"jobs", "list", "--json", "--socket", dmn.socket, NULL},
                NULL);
    clirun_expect_ok(&r);
    doc = clirun_json(&r);
    expect_ids(doc, all, 8, "options after the command");
    json_decref(doc);
    clirun_free(&r);

    /* Text: a header and a row per job; a cut list says how to go on, on stderr. */
    RUN(&r, "jobs", "list");
    clirun_expect_ok(&r);
    cr_expect_eq(lines(r.out), 9, "%s", r.out);
    cr_expect(strncmp(r.out, "ID ", 3) == 0 && strstr(r.out, "FUNCTION\n") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, " cancelled ") != NULL && strstr(r.out, " 0/3 ") != NULL, "%s", r.out);
    clirun_free(&r);
    RUN(&r, "jobs", "list", "--limit", "2");
    cr_expect_eq(r.status, 0);
    cr_expect_eq(lines(r.out), 3, "%s", r.out);
    cr_expect(strstr(r.err, "more jobs: add --after ") != NULL, "%s", r.err);
    clirun_free(&r);
    RUN(&r, "jobs", "list", "--name", "nobody");
    clirun_expect_ok(&r);
    cr_expect_str_eq(r.out, "no jobs\n");
    clirun_free(&r);
}

Test(cli_jobs, steps_show_their_parent_and_list_by_parent)
{
    uint64_t parent = enqueue("cli:saga", "[]", later);
    struct rs_client *c = client();
    uint64_t steps[2];
    for (unsigned i = 0; i < 2; i++) {
        struct rs_enqueue_opts o;
        rs_enqueue_opts_init(&o);
        o.parent = parent;
        o.step = i;
        o.delay_ms = 3600000;
        struct rs_enqueue_result r;
        cr_assert_eq(rs_enqueue(c, "cli:step", NULL, 0, &o, &r), RS_CLIENT_OK, "%s",
                     rs_client_errmsg(c));
        steps[i] = r.job;
    }
    rs_client_close(c);
    char id[24], pid[24];
    json_t *doc = RUN_JSON("jobs", "show", id_text(steps[1], id));
    cr_expect_eq(json_integer_value(json_object_get(doc, "parent")), (json_int_t)parent);
    cr_expect_eq(json_integer_value(json_object_get(doc, "step")), 1);
    json_decref(doc);
    doc = RUN_JSON("jobs", "show", id_text(parent, pid));
    cr_expect(json_is_null(json_object_get(doc, "parent")));
    json_decref(doc);
    doc = RUN_JSON("jobs", "list", "--parent", pid);
    expect_ids(doc, (uint64_t[]){steps[1], steps[0]}, 2, "--parent");
    json_decref(doc);
    struct clirun r;
    RUN(&r, "jobs", "show", id_text(steps[0], id));
    clirun_expect_ok(&r);
    char want[64];
    snprintf(want, sizeof(want), "step 0 of job %" PRIu64, parent);
    cr_expect(strstr(r.out, want) != NULL, "%s", r.out);
    clirun_free(&r);
    RUN(&r, "jobs", "list", "--parent", "0");
    cr_expect_eq(r.status, 2, "--parent 0 is a usage error");
    clirun_free(&r);
}

Test(cli_jobs, cancel_retry_and_their_conflicts)
{
    uint64_t id = enqueue("cli:a", "[]", later);
    char idb[24], line[64];
    id_text(id, idb);
    struct clirun r;
    RUN(&r, "jobs", "cancel", idb);
    clirun_expect_ok(&r);
    snprintf(line, sizeof(line), "job %s is cancelled\n", idb);
    cr_expect_str_eq(r.out, line);
    clirun_free(&r);
    RUN(&r, "jobs", "cancel", idb);
    clirun_expect_error(&r, 1, "conflict");
    clirun_free(&r);

    json_t *job = RUN_JSON("jobs", "retry", idb);
    cr_expect_str_eq(json_string_value(json_object_get(job, "status")), "pending");
    cr_expect_eq(json_integer_value(json_object_get(job, "id")), (json_int_t)id);
    json_decref(job);
    RUN(&r, "jobs", "retry", idb);
    clirun_expect_error(&r, 1, "conflict");
    clirun_free(&r);
    job = RUN_JSON("jobs", "cancel", idb);
    cr_expect_str_eq(json_string_value(json_object_get(job, "status")), "cancelled");
    json_decref(job);
    RUN(&r, "jobs", "retry", idb);
    clirun_expect_ok(&r);
    snprintf(line, sizeof(line), "job %s is pending\n", idb);
    cr_expect_str_eq(r.out, line);
    clirun_free(&r);

    /* No such job: exit status 1, for every command that names one, in both modes. */
    static const char *const verbs[] = {"show", "cancel", "retry", "await"};
    for (size_t i = 0; i < 4; i++) {
        RUN(&r, "jobs", verbs[i], "987654321");
        clirun_expect_error(&r, 1, "not_found");
        cr_expect(strstr(r.err, "987654321") != NULL, "%s", r.err);
        clirun_free(&r);
        RUN(&r, "--json", "jobs", verbs[i], "987654321");
        clirun_expect_error(&r, 1, "not_found");
        clirun_free(&r);
    }
}

Test(cli_jobs, await_fails_for_a_job_that_did_not_succeed)
{
    struct worker w;
    worker_start(&w);
    char idb[24];
    id_text(enqueue("cli:fail", "[1, 2]", (const char *const[]){"--max-attempts", "1", NULL}), idb);
    struct clirun r;
    RUN(&r, "jobs", "await", idb);
    clirun_expect_error(&r, 1, "is dead after attempt 1: no luck with 3 bytes of args");
    clirun_free(&r);
    RUN(&r, "--json", "jobs", "await", idb);
    cr_expect_eq(r.status, 1);
    cr_expect(clirun_err_line(&r, "is dead"), "%s", r.err);
    json_t *done = clirun_json(&r);
    cr_expect_str_eq(json_string_value(json_object_get(done, "status")), "dead");
    cr_expect_str_eq(json_string_value(json_object_get(done, "error")),
                     "no luck with 3 bytes of args");
    cr_expect(json_is_null(json_object_get(done, "result")));
    json_decref(done);
    clirun_free(&r);
    worker_end(&w);

    id_text(enqueue("cli:a", "[]", later), idb);
    RUN(&r, "jobs", "await", idb, "--timeout", "200");
    clirun_expect_error(&r, 1, "timeout");
    clirun_free(&r);
    RUN(&r, "jobs", "cancel", idb);
    clirun_free(&r);
    RUN(&r, "jobs", "await", idb);
    clirun_expect_error(&r, 1, "was cancelled");
    clirun_free(&r);
}

Test(cli_jobs, enqueue_options_reach_the_job)
{
    const char *const more[] = {
        "--key", "order-17",  "--max-attempts", "7",         "--priority", "-5", "--delay",
        "60000", "--timeout", "1000",           "--backoff", "linear",     NULL};
    uint64_t id = enqueue("cli:opts", "[\"x\"]", more);
    char idb[24];
    json_t *j = RUN_JSON("jobs", "enqueue", "cli:opts", "--args", "[\"y\"]", "--key", "order-17");
    cr_expect_eq(json_integer_value(json_object_get(j, "job")), (json_int_t)id);
    cr_expect(json_is_true(json_object_get(j, "deduplicated")));
    json_decref(j);
    struct clirun r;
    RUN(&r, "jobs", "enqueue", "cli:opts", "--args", "[]", "--key", "order-17");
    clirun_expect_ok(&r);
    char line[96];
    snprintf(line, sizeof(line), "job %s (deduplicated: it existed for key order-17)\n",
             id_text(id, idb));
    cr_expect_str_eq(r.out, line);
    clirun_free(&r);

    j = RUN_JSON("jobs", "show", idb);
    cr_expect_str_eq(json_string_value(json_object_get(j, "key")), "order-17");
    cr_expect_eq(json_integer_value(json_object_get(j, "max_attempts")), 7);
    cr_expect_eq(json_integer_value(json_object_get(j, "priority")), -5);
    json_int_t delay = json_integer_value(json_object_get(j, "run_at")) -
                       json_integer_value(json_object_get(j, "created_at"));
    cr_expect(delay >= 59000 && delay <= 61000, "run_at - created_at = %lld", (long long)delay);
    expect_json_text(json_object_get(j, "args"), "[\"x\"]", "the first args stay");
    json_decref(j);

    RUN(&r, "jobs", "enqueue", "cli:opts", "--args", "[]");
    clirun_expect_ok(&r);
    cr_expect(strncmp(r.out, "job ", 4) == 0 && strstr(r.out, " enqueued\n") != NULL, "%s", r.out);
    clirun_free(&r);
}

/* The entry of status --json's list key whose "name" is name, or NULL. */
static const json_t *entry(const json_t *s, const char *key, const char *name)
{
    const json_t *list = json_object_get(s, key), *e;
    size_t i;
    json_array_foreach(list, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0)
            return e;
    }
    return NULL;
}

static json_int_t num(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* status --json once the counters of cli:echo and cli:fail show every attempt ended: the
 * worker's last OK and the AWAIT answer may come before the daemon counted the outcome on a
 * loaded machine, so this waits (bounded) for the count, then the test checks it exactly. */
static json_t *status_when_counted(json_int_t ended)
{
    for (int i = 0;; i++) {
        json_t *s = RUN_JSON("status");
        const json_t *echo = entry(s, "functions", "cli:echo");
        const json_t *fail = entry(s, "functions", "cli:fail");
        json_int_t n = num(echo, "succeeded") + num(fail, "failed");
        if (n >= ended || i == 100)
            return s;
        json_decref(s);
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

Test(cli_jobs, status_shows_the_daemon_queues_and_exact_counters)
{
    enum { NECHO = 4, NFAIL = 3 };
    struct worker w;
    worker_start(&w);
    char idb[24];
    struct clirun r;
    for (int i = 0; i < NECHO; i++)
        json_decref(RUN_JSON("jobs", "await", id_text(enqueue("cli:echo", "[1]", NULL), idb)));
    for (int i = 0; i < NFAIL; i++) {
        id_text(enqueue("cli:fail", "[]", (const char *const[]){"--max-attempts", "1", NULL}), idb);
        RUN(&r, "jobs", "await", idb);
        cr_expect_eq(r.status, 1);
        clirun_free(&r);
    }
    worker_end(&w);
    enqueue("cli:a", "[]", later);
    enqueue("cli:a", "[]", later);
    RUN(&r, "jobs", "cancel", id_text(enqueue("cli:b", "[]", later), idb));
    clirun_free(&r);

    json_t *s = status_when_counted(NECHO + NFAIL);
    const json_t *d = json_object_get(s, "daemon");
    cr_expect(strncmp(json_string_value(json_object_get(d, "server")), "reseoliod/", 10) == 0);
    cr_expect_eq(num(d, "protocol"), 1);
    const char *node = json_string_value(json_object_get(d, "node"));
    cr_assert_eq(strlen(node), 32);
    cr_expect_eq(num(d, "pid"), (json_int_t)dmn.pid);
    cr_expect_gt(num(d, "started_at"), 1700000000000);
    cr_expect_geq(num(d, "uptime_ms"), 0);
    cr_expect_eq(num(d, "connections"), 1, "only this status connection is open");
    cr_expect_eq(num(d, "workers"), 0, "the worker has gone");
    cr_expect_eq(num(d, "running"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(d, "socket")), dmn.socket);
    cr_expect_eq(num(d, "max_frame"), 1048576);

    const json_t *db_ = json_object_get(s, "database");
    cr_expect(strstr(json_string_value(json_object_get(db_, "storage")), "postgresql://") != NULL);
    cr_expect_str_eq(json_string_value(json_object_get(db_, "schema")), "reseolio");
    cr_expect(json_is_true(json_object_get(db_, "up")));
    cr_expect_gt(num(db_, "counted_at"), 1700000000000);
    cr_expect(json_is_null(json_object_get(db_, "count_error")));
    cr_expect(json_is_false(json_object_get(s, "truncated")));

    const json_t *nodes = json_object_get(s, "nodes");
    cr_assert_eq(json_array_size(nodes), 1);
    const json_t *n0 = json_array_get(nodes, 0);
    cr_expect_str_eq(json_string_value(json_object_get(n0, "id")), node);
    cr_expect_eq(num(n0, "pid"), (json_int_t)dmn.pid);
    cr_expect_gt(json_string_length(json_object_get(n0, "host")), 0);

    /* queues: jobs not final, by function and status; cli:b is cancelled, the rest final */
    expect_json_text(json_object_get(s, "queues"),
                     "[{\"name\": \"cli:a\", \"pending\": 2, \"running\": 0}]", "queues");

    /* counters: exactly the jobs that were run */
    const json_t *echo = entry(s, "functions", "cli:echo");
    const json_t *fail = entry(s, "functions", "cli:fail");
    const json_t *a = entry(s, "functions", "cli:a");
    cr_assert(echo != NULL && fail != NULL && a != NULL);
    static const char *const keys[] = {"enqueued", "deduplicated", "started",   "succeeded",
                                       "failed",   "dead",         "timed_out", "reclaimed"};
    const json_int_t want_echo[] = {NECHO, 0, NECHO, NECHO, 0, 0, 0, 0};
    const json_int_t want_fail[] = {NFAIL, 0, NFAIL, 0, NFAIL, NFAIL, 0, 0};
    const json_int_t want_a[] = {2, 0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 8; i++) {
        cr_expect_eq(num(echo, keys[i]), want_echo[i], "cli:echo %s", keys[i]);
        cr_expect_eq(num(fail, keys[i]), want_fail[i], "cli:fail %s", keys[i]);
        cr_expect_eq(num(a, keys[i]), want_a[i], "cli:a %s", keys[i]);
    }
    cr_expect_eq(num(echo, "duration_count"), NECHO);
    cr_expect_gt(num(echo, "duration_sum_us"), 0);
    cr_expect_eq(num(entry(s, "functions", "cli:b"), "enqueued"), 1);
    cr_expect_null(entry(s, "functions", "_other"), "nothing counted under _other");
    json_decref(s);

    RUN(&r, "status");
    clirun_expect_ok(&r);
    cr_expect(strstr(r.out, "daemon     reseoliod/") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, ", schema reseolio: up\n") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "(this daemon)") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "\ncli:a           2        0\n") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "\ncli:fail        3        3         0        3        3") != NULL,
              "%s", r.out);
    clirun_free(&r);

    RUN(&r, "status", "--max-jobs", "1");
    clirun_expect_error(&r, 2, "--max-jobs");
    clirun_free(&r);
}

Test(cli_jobs, a_daemon_that_stopped_is_unreachable)
{
    /* Without --socket, RESEOLIO_SOCKET names the daemon, as for every client. */
    char env[160];
    snprintf(env, sizeof(env), "RESEOLIO_SOCKET=%s", dmn.socket);
    struct clirun r;
    clirun_argv(&r, (const char *const[]){"jobs", "list", NULL}, (const char *const[]){env, NULL});
    clirun_expect_ok(&r);
    cr_expect_str_eq(r.out, "no jobs\n");
    clirun_free(&r);

    int st = daemon_proc_stop(&dmn);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    RUN(&r, "jobs", "list");
    clirun_expect_error(&r, 3, "cannot reach the daemon");
    clirun_free(&r);
    RUN(&r, "--json", "status");
    clirun_expect_error(&r, 3, "cannot reach the daemon");
    clirun_free(&r);
}

/* PostgreSQL down: the daemon answers "unavailable", which is exit status 3 like no daemon
 * (this test stops the cluster, hence '--jobs 1' for this binary). */
Test(cli_jobs, storage_down_is_unavailable)
{
    cr_assert_eq(pgtest_stop(), 0);
    struct clirun r;
    RUN(&r, "--timeout", "20000", "jobs", "show", "1");
    cr_expect_eq(r.status, 3, "exit status %d: %s", r.status, r.err);
    cr_expect(clirun_err_line(&r, "unavailable"), "%s", r.err);
    clirun_free(&r);

    /* status still answers with what the daemon knows, and exits 3 */
    RUN(&r, "--json", "status");
    cr_expect_eq(r.status, 3, "exit status %d: %s", r.status, r.err);
    cr_expect(clirun_err_line(&r, "PostgreSQL session is down"), "%s", r.err);
    json_t *s = clirun_json(&r);
    const json_t *d = json_object_get(s, "database");
    cr_expect(json_is_false(json_object_get(d, "up")), "%s", r.out);
    cr_expect(json_is_string(json_object_get(d, "count_error")), "%s", r.out);
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(s, "daemon"), "connections")),
                 1);
    json_decref(s);
    clirun_free(&r);
    cr_assert_eq(pgtest_start(), 0);
}
