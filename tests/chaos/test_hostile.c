/*
 * Chaos, hostile input: names, keys and payloads built to break SQL; a storage password that
 * must never show; clients that send one byte at a time.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

#define T 20000

static struct daemon_proc d1;
static char *db;

static void setup(void)
{
    cr_assert_eq(daemon_proc_init(&d1), 0);
    db = pgtest_create_db("hostile");
    cr_assert_not_null(db);
}

static void teardown(void)
{
    daemon_proc_cleanup(&d1);
    free(db);
    db = NULL;
}

TestSuite(hostile, .init = setup, .fini = teardown, .timeout = 120);

Test(hostile, sql_injection)
{
    chaos_start(&d1, db, NULL);
    struct ec app;
    cr_assert_eq(ec_open(&app, d1.socket), 0);
    static const char *const evil[] = {
        "a'b",
        "x'); DROP TABLE reseolio.jobs; --",
        "\"quoted\"; CREATE TABLE public.pwned (x int); --",
        "'; INSERT INTO reseolio.jobs (name) VALUES ('ghost'); --",
        "$1 $$ \\x00 E'\\\\' %s %n",
    };
    long long before = chaos_sql_int(db, "SELECT count(*) FROM pg_class");
    for (size_t i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
        struct rs_enqueue e;
        memset(&e, 0, sizeof(e));
        e.name = (struct rs_str){evil[i], (uint32_t)strlen(evil[i])};
        e.key = e.name;
        uint8_t args[64];
        size_t n = strlen(evil[i]) < 40 ? strlen(evil[i]) : 40;
        memcpy(args, evil[i], n);
        args[n] = 0; /* a NUL inside the bytes of args is data */
        memcpy(args + n + 1, "'--", 3);
        e.args = (struct rs_bytes){args, (uint32_t)(n + 4)};
        char err[64] = "";
        int64_t id = ec_enqueue(&app, &e, NULL, err, sizeof(err));
        cr_assert_gt(id, 0, "\"%s\" refused: %s", evil[i], err);
        struct wire_reply r;
        cr_assert_eq(ec_call(&app, RS_MSG_GET, (uint64_t)id, T, &r), 0);
        cr_assert_eq(r.msg.type, RS_MSG_JOB);
        const struct rs_job *j = &r.msg.u.job;
        cr_expect(j->name.len == strlen(evil[i]) && memcmp(j->name.ptr, evil[i], j->name.len) == 0,
                  "name not stored verbatim");
        cr_expect(j->key.len == strlen(evil[i]) && memcmp(j->key.ptr, evil[i], j->key.len) == 0,
                  "key not stored verbatim");
        cr_expect(j->args.len == n + 4 && memcmp(j->args.ptr, args, n + 4) == 0,
                  "args not stored verbatim");
        wire_reply_free(&r);
    }
    /* A NUL inside a name or key, and invalid UTF-8: refused, nothing stored. */
    static const struct {
        const char *p;
        uint32_t len;
        bool in_key;
    } bad[] = {
        {"nul\0name", 8, false},
        {"nul\0key", 7, true},
        {"\xff\xfe bad utf-8", 12, false},
        {"\xc3\x28", 2, true},
        {"\xed\xa0\x80 surrogate", 13, false},
    };
    /* Sent as raw MessagePack (no client would encode them): ENQUEUE {"name": s} or
     * {"name": "fine", "key": s}. */
    int fd = wire_connect(d1.socket);
    cr_assert_geq(fd, 0);
    cr_assert_eq(wire_handshake(fd), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t f[64];
        size_t n = 0;
        f[n++] = 0x93;
        f[n++] = 0x10;
        f[n++] = (uint8_t)(10 + i);
        f[n++] = bad[i].in_key ? 0x82 : 0x81;
        f[n++] = 0xa4;
        memcpy(f + n, "name", 4);
        n += 4;
        if (bad[i].in_key) {
            f[n++] = 0xa4;
            memcpy(f + n, "fine", 4);
            n += 4;
            f[n++] = 0xa3;
            memcpy(f + n, "key", 3);
            n += 3;
        }
        f[n++] = (uint8_t)(0xa0 | bad[i].len);
        memcpy(f + n, bad[i].p, bad[i].len);
        n += bad[i].len;
        cr_assert_eq(wire_send_frame(fd, f, (uint32_t)n), 0);
        cr_expect(wire_expect_error(fd, "bad_value", (uint32_t)(10 + i)),
                  "bad string %zu was not refused", i);
    }
    close(fd);
    ec_close(&app);
    cr_expect_eq(chaos_sql_int(db, "SELECT count(*) FROM reseolio.jobs"),
                 (long long)(sizeof(evil) / sizeof(evil[0])), "a row appeared or vanished");
    cr_expect_eq(chaos_sql_int(db, "SELECT count(*) FROM pg_class"), before,
                 "a relation appeared or vanished");
    cr_expect_eq(chaos_sql_int(db, "SELECT count(*) FROM pg_class WHERE relname = 'pwned'"), 0);
}

/* True if the file at path contains needle. */
static bool file_has(const char *path, const char *needle)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return false;
    static char buf[1 << 16];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    return memmem(buf, (size_t)n, needle, strlen(needle)) != NULL;
}

Test(hostile, secrets)
{
    static const char pw[] = "Sup3rS3cretPw";
    char storage[1024];
    snprintf(storage, sizeof(storage), "%s password=%s", db, pw);
    const char *args[] = {"--storage", storage, "--heartbeat-ms", CHAOS_HEARTBEAT, NULL};
    struct daemon_opts o = {.args = args};
    cr_assert_eq(daemon_proc_start(&d1, &o), 0);
    cr_assert(daemon_proc_wait_log(&d1, "job engine ready", T));
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)d1.pid);
    cr_expect(!file_has(path, pw), "the password is in the process title");
    cr_expect(file_has(path, "--storage"), "cannot read %s", path);
    snprintf(path, sizeof(path), "/proc/%d/environ", (int)d1.pid);
    cr_expect(!file_has(path, pw), "the password is in the environment");
    /* Error replies: a HELLO naming other storage (with a password of its own) is refused
     * with both identities, and neither password. */
    int fd = wire_connect(d1.socket);
    cr_assert_geq(fd, 0);
    cr_assert_eq(wire_send_hello(fd, 1, 1, "postgresql://app:ClientPw@elsewhere/db"), 0);
    struct wire_reply r;
    cr_assert_eq(wire_recv(fd, T, &r), 1);
    cr_expect(wire_is_error(&r, "storage_mismatch"));
    const struct rs_str *msg = &r.msg.u.error.message;
    cr_expect(memmem(msg->ptr, msg->len, pw, strlen(pw)) == NULL, "%.*s", (int)msg->len, msg->ptr);
    cr_expect(memmem(msg->ptr, msg->len, "ClientPw", 8) == NULL, "%.*s", (int)msg->len, msg->ptr);
    wire_reply_free(&r);
    close(fd);
    /* Requests while the storage is unreachable: the error names no password either. */
    const char *args2[] = {"--storage", storage, NULL};
    struct daemon_proc d2;
    cr_assert_eq(daemon_proc_init(&d2), 0);
    char bad[1024];
    snprintf(bad, sizeof(bad), "%s dbname=no_such_db_%d password=%s", db, (int)getpid(), pw);
    args2[1] = bad;
    struct daemon_opts o2 = {.args = args2};
    cr_assert_eq(daemon_proc_start(&d2, &o2), 0);
    struct ec app;
    cr_assert_eq(ec_open(&app, d2.socket), 0);
    struct rs_enqueue e;
    memset(&e, 0, sizeof(e));
    e.name = RS_STR("s");
    char err[64] = "";
    cr_expect_eq(ec_enqueue(&app, &e, NULL, err, sizeof(err)), -1);
    cr_expect_str_eq(err, "unavailable");
    ec_close(&app);
    cr_assert(daemon_proc_wait_log(&d2, "no_such_db", T), "the failure was not logged");
    daemon_proc_stop(&d2);
    cr_expect(!daemon_proc_log_has(&d2, pw), "the password is in the log");
    daemon_proc_cleanup(&d2);
    daemon_proc_stop(&d1);
    cr_expect(!daemon_proc_log_has(&d1, pw), "the password is in the log");
}

Test(hostile, one_byte_per_interval_clients_are_dropped_and_others_served, .timeout = 60)
{
    enum { SLOW = 16 };
    chaos_start(&d1, db, NULL);
    /* A HELLO sent 1 byte per 500 ms takes minutes; the handshake limit (10 s) ends it. */
    static const uint8_t hello[] = {0, 0, 0, 40, 0x83, 0xa1, 't'};
    int fds[SLOW];
    bool closed[SLOW] = {false};
    for (int i = 0; i < SLOW; i++) {
        fds[i] = wire_connect(d1.socket);
        cr_assert_geq(fds[i], 0);
    }
    struct ec ok;
    cr_assert_eq(ec_open(&ok, d1.socket), 0);
    int64_t start = chaos_now_ms();
    int nclosed = 0;
    for (size_t step = 0; nclosed < SLOW && chaos_now_ms() - start < 20000; step++) {
        for (int i = 0; i < SLOW; i++)
            if (!closed[i] && step < sizeof(hello) && wire_send_raw(fds[i], &hello[step], 1) != 0) {
                closed[i] = true;
                nclosed++;
            }
        /* The well-behaved client is served all along: one PING each round. */
        struct rs_msg m;
        memset(&m, 0, sizeof(m));
        m.type = RS_MSG_PING;
        uint32_t rid = ec_send(&ok, &m);
        struct wire_reply r;
        cr_assert_eq(ec_reply(&ok, rid, 2000, &r), 0, "the good client was not answered");
        wire_reply_free(&r);
        /* Pace of the slow senders: wait for a close on any of them for up to 500 ms. */
        struct pollfd p[SLOW];
        for (int i = 0; i < SLOW; i++)
            p[i] = (struct pollfd){.fd = closed[i] ? -1 : fds[i], .events = POLLIN};
        if (poll(p, SLOW, 500) > 0)
            for (int i = 0; i < SLOW; i++)
                if (!closed[i] && (p[i].revents & (POLLIN | POLLHUP)) &&
                    wire_closed(fds[i], 1000)) {
                    closed[i] = true;
                    nclosed++;
                }
    }
    int64_t took = chaos_now_ms() - start;
    cr_expect_eq(nclosed, SLOW, "%d slow clients still connected after %lld ms", SLOW - nclosed,
                 (long long)took);
    cr_expect_lt(took, 15000);
    for (int i = 0; i < SLOW; i++)
        close(fds[i]);
    ec_close(&ok);
    cr_expect(daemon_proc_log_has(&d1, "HELLO"));
}

/* VmRSS or VmHWM ("VmRSS:", "VmHWM:") of pid in KiB, -1 when unreadable. */
static long hostile_vm_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, field, strlen(field)) == 0)
            kib = strtol(line + strlen(field), NULL, 10);
    fclose(f);
    return kib;
}

/* The bad frames of the catalogue; the daemon of the barrage runs with --max-frame 65536. */
enum { BAD_KINDS = 12, BAD_DEEP = 10000 };
static const uint8_t bad_len0[] = {0, 0, 0, 0};
static const uint8_t bad_huge[] = {0xff, 0xff, 0xff, 0xff};
static const uint8_t bad_over[] = {0x00, 0x01, 0x00, 0x01}; /* the limit + 1 */
static const uint8_t bad_half[] = {0x00, 0x00};
static const uint8_t bad_partial[] = {0x00, 0x00, 0x00, 0x64, 0x93, 0x04, 0x01};
static const uint8_t bad_bomb[] = {0x00, 0x00, 0x00, 0x05, 0xdd, 0xff, 0xff, 0xff, 0xff};
static const uint8_t bad_types[] = {0x00, 0x00, 0x00, 0x04, 0x93, 0x04, 0x11, 0x05};
/* PING {} with request id 9, then one byte more inside the frame. */
static const uint8_t bad_trailing[] = {0x00, 0x00, 0x00, 0x05, 0x93, 0x01, 0x09, 0x80, 0xc0};
static uint8_t bad_nest33[4 + 34], bad_deep[4 + BAD_DEEP + 1], bad_junk[4 + 8000];

/* A frame of n - 4 body bytes: depth arrays of one element around a nil, or garbage. */
static void hostile_nest(uint8_t *f, size_t n)
{
    uint32_t len = (uint32_t)(n - 4);
    f[0] = (uint8_t)(len >> 24);
    f[1] = (uint8_t)(len >> 16);
    f[2] = (uint8_t)(len >> 8);
    f[3] = (uint8_t)len;
    memset(f + 4, 0x91, len - 1);
    f[n - 1] = 0xc0;
}

/* Send bad frame kind k on a fresh connection (after a handshake for the kinds that come
 * after HELLO); returns the fd to drain and close, or -1. */
static int hostile_send_bad(const char *socket, int k)
{
    int fd = wire_connect(socket);
    if (fd < 0)
        return -1;
    if (k != 0 && k != 1 && k != 3 && wire_handshake(fd) != 0) {
        close(fd);
        return -1;
    }
    struct rs_msg m;
    switch (k) {
    case 0:
        (void)wire_send_raw(fd, bad_len0, sizeof(bad_len0));
        break;
    case 1:
        (void)wire_send_raw(fd, bad_huge, sizeof(bad_huge));
        break;
    case 2:
        (void)wire_send_raw(fd, bad_over, sizeof(bad_over));
        break;
    case 3:
        (void)wire_send_raw(fd, bad_half, sizeof(bad_half));
        break;
    case 4:
        (void)wire_send_raw(fd, bad_partial, sizeof(bad_partial));
        break;
    case 5:
        (void)wire_send_raw(fd, bad_bomb, sizeof(bad_bomb));
        break;
    case 6:
        (void)wire_send_raw(fd, bad_nest33, sizeof(bad_nest33));
        break;
    case 7:
        (void)wire_send_raw(fd, bad_deep, sizeof(bad_deep));
        break;
    case 8:
        (void)wire_send_raw(fd, bad_types, sizeof(bad_types));
        break;
    case 9:
        (void)wire_send_raw(fd, bad_trailing, sizeof(bad_trailing));
        break;
    case 10:
        memset(&m, 0, sizeof(m));
        m.type = RS_MSG_ENQUEUE;
        m.request_id = 5;
        m.u.enqueue.name = (struct rs_str){"\xff\xfe\xc3", 3}; /* invalid UTF-8 */
        (void)wire_send_msg(fd, &m);
        break;
    default:
        (void)wire_send_raw(fd, bad_junk, sizeof(bad_junk));
        break;
    }
    return fd; /* a send that failed: the daemon closed already, an answer too */
}

struct barrage {
    const char *socket;
    atomic_bool stop;
    atomic_long sent;
};

/* One attacker: 16 connections at a time, each with a bad frame, read briefly, closed. */
static void *hostile_attack(void *arg)
{
    struct barrage *b = arg;
    enum { AT_ONCE = 16 };
    for (unsigned round = 0; !atomic_load(&b->stop); round++) {
        int fds[AT_ONCE];
        for (int i = 0; i < AT_ONCE; i++) {
            fds[i] =
                hostile_send_bad(b->socket, (int)((round * AT_ONCE + (unsigned)i) % BAD_KINDS));
            atomic_fetch_add(&b->sent, 1);
        }
        for (int i = 0; i < AT_ONCE; i++) {
            if (fds[i] < 0)
                continue;
            struct wire_reply r;
            if (wire_recv(fds[i], 20, &r) == 1)
                wire_reply_free(&r);
            close(fds[i]);
        }
    }
    return NULL;
}

/*
 * bad-frames, memory: four attackers (64 connections at a time) send the catalogue's bad
 * frames for four seconds while an application enqueues and reads jobs; every request of the
 * application is answered in time and the daemon's peak RSS grows by less than the bound
 * (32 MiB: 64 connections with a 64 KiB frame limit are 4 MiB of buffers; a release build
 * grows by under 1 MiB, an ASan build with a small quarantine by a few).
 */
#define HOSTILE_RSS_BOUND_KIB (32L * 1024)
Test(hostile, bad_frames_barrage_keeps_rss_bounded)
{
    hostile_nest(bad_nest33, sizeof(bad_nest33));
    hostile_nest(bad_deep, sizeof(bad_deep));
    hostile_nest(bad_junk, sizeof(bad_junk));
    memset(bad_junk + 4, 0xc1, sizeof(bad_junk) - 4);
    const char *const small[] = {"--max-frame", "65536", NULL};
    /* Under AddressSanitizer freed memory waits in a quarantine (256 MB by default) before it
     * is reused, which is RSS that says nothing about the daemon: keep it small here. */
    const char *asan = getenv("ASAN_OPTIONS");
    char *saved = asan != NULL ? strdup(asan) : NULL;
    char opts[1024];
    snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=1:thread_local_quarantine_size_kb=64",
             asan != NULL ? asan : "", asan != NULL && asan[0] ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    chaos_start(&d1, db, small);
    if (saved != NULL)
        setenv("ASAN_OPTIONS", saved, 1);
    else
        unsetenv("ASAN_OPTIONS");
    free(saved);
    struct ec app;
    cr_assert_eq(ec_open(&app, d1.socket), 0);
    cr_assert_gt(ec_enqueue_name(&app, "rss"), 0); /* the work session is up */
    long rss0 = hostile_vm_kib(d1.pid, "VmRSS:"), hwm0 = hostile_vm_kib(d1.pid, "VmHWM:");
    cr_assert_gt(rss0, 0);

    struct barrage b = {.socket = d1.socket};
    atomic_init(&b.stop, false);
    atomic_init(&b.sent, 0);
    enum { ATTACKERS = 4 };
    pthread_t th[ATTACKERS];
    for (int i = 0; i < ATTACKERS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, hostile_attack, &b), 0);
    int64_t end = chaos_now_ms() + 4000, worst = 0;
    long served = 0;
    while (chaos_now_ms() < end) {
        int64_t t0 = chaos_now_ms();
        int64_t id = ec_enqueue_name(&app, "rss");
        struct wire_reply r;
        int got = id > 0 ? ec_call(&app, RS_MSG_GET, (uint64_t)id, T, &r) : -1;
        if (got == 0)
            wire_reply_free(&r);
        if (id <= 0 || got != 0)
            break;
        served++;
        if (chaos_now_ms() - t0 > worst)
            worst = chaos_now_ms() - t0;
    }
    atomic_store(&b.stop, true);
    for (int i = 0; i < ATTACKERS; i++)
        pthread_join(th[i], NULL);
    long rss1 = hostile_vm_kib(d1.pid, "VmRSS:"), hwm1 = hostile_vm_kib(d1.pid, "VmHWM:");
    cr_log_info("barrage: %ld bad connections; %ld requests served meanwhile (worst %lld ms); "
                "VmRSS %ld -> %ld KiB, VmHWM %ld -> %ld KiB",
                atomic_load(&b.sent), served, (long long)worst, rss0, rss1, hwm0, hwm1);
    cr_expect_gt(atomic_load(&b.sent), 500, "the barrage was too small to mean anything");
    cr_expect_gt(served, 10, "the application was not served during the barrage");
    cr_expect_lt(worst, 5000, "a request of the application waited %lld ms", (long long)worst);
    cr_expect_lt(hwm1 - rss0, HOSTILE_RSS_BOUND_KIB, "peak RSS grew by %ld KiB", hwm1 - rss0);
    cr_expect_lt(rss1 - rss0, HOSTILE_RSS_BOUND_KIB, "RSS grew by %ld KiB", rss1 - rss0);
    /* Still serving after the barrage. */
    cr_expect_gt(ec_enqueue_name(&app, "rss"), 0);
    ec_close(&app);
}

/*
 * A client that shuts its sending side (shutdown(SHUT_WR)) right after pipelining requests
 * still gets every reply it is owed: the ENQUEUEs, a PING, an AWAIT that a worker on another
 * connection completes only afterwards, an AWAIT that times out; then the daemon closes.
 */
Test(hostile, half_closed_client_gets_every_reply_it_is_owed)
{
    chaos_start(&d1, db, NULL);
    struct ec app, w;
    cr_assert_eq(ec_open(&app, d1.socket), 0);
    int64_t later = ec_enqueue_name(&app, "half");
    int64_t never = ec_enqueue_name(&app, "half-nobody-serves");
    cr_assert_gt(later, 0);
    cr_assert_gt(never, 0);

    enum { ENQUEUES = 20 };
    uint32_t enq[ENQUEUES];
    struct rs_msg m;
    for (int i = 0; i < ENQUEUES; i++) {
        memset(&m, 0, sizeof(m));
        m.type = RS_MSG_ENQUEUE;
        m.u.enqueue.name = RS_STR("half-more");
        cr_assert_neq(enq[i] = ec_send(&app, &m), 0);
    }
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_AWAIT;
    m.u.ref.job = (uint64_t)later;
    uint32_t awaited = ec_send(&app, &m);
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_AWAIT;
    m.u.ref.job = (uint64_t)never;
    m.u.ref.has = RS_HAS_AWAIT_TIMEOUT;
    m.u.ref.timeout_ms = 300;
    uint32_t times_out = ec_send(&app, &m);
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_PING;
    uint32_t ping = ec_send(&app, &m);
    cr_assert(awaited != 0 && times_out != 0 && ping != 0);
    cr_assert_eq(shutdown(app.fd, SHUT_WR), 0);
    cr_expect(daemon_proc_wait_log(&d1, "shut its sending side", T),
              "the daemon did not log the half-close while owing replies");

    /* Only now does the awaited job run, on another connection. */
    cr_assert_eq(ec_open(&w, d1.socket), 0);
    cr_assert_eq(ec_register(&w, "half", 1), 0);
    struct wire_reply d, r;
    cr_assert_eq(ec_next(&w, RS_MSG_DISPATCH, T, &d), 0);
    cr_assert_eq(d.msg.u.dispatch.job, (uint64_t)later);
    cr_assert_eq(
        ec_ack(&w, (uint64_t)later, d.msg.u.dispatch.attempt, true, "fine", false, NULL, 0), 0);
    wire_reply_free(&d);

    for (int i = 0; i < ENQUEUES; i++) {
        cr_assert_eq(ec_reply(&app, enq[i], T, &r), 0, "ENQUEUE %d lost its reply", i);
        cr_expect_eq(r.msg.type, RS_MSG_ENQUEUED);
        wire_reply_free(&r);
    }
    cr_assert_eq(ec_reply(&app, ping, T, &r), 0, "PING lost its reply");
    cr_expect_eq(r.msg.type, RS_MSG_PONG);
    wire_reply_free(&r);
    cr_assert_eq(ec_reply(&app, times_out, T, &r), 0, "the AWAIT with a timeout lost its reply");
    char code[64];
    cr_expect_str_eq(ec_code(&r, code, sizeof(code)), "timeout");
    wire_reply_free(&r);
    cr_assert_eq(ec_reply(&app, awaited, T, &r), 0, "the AWAIT lost its COMPLETED");
    cr_expect_eq(r.msg.type, RS_MSG_COMPLETED);
    cr_expect_eq(r.msg.u.completed.status, RS_STATUS_SUCCESS);
    wire_reply_free(&r);
    /* Nothing more is owed: the daemon closes. */
    cr_expect(wire_closed(app.fd, T), "the half-closed connection stayed open");
    cr_expect(daemon_proc_wait_log(&d1, "closed: peer closed the connection", T));
    cr_expect_eq(chaos_sql_int(db, "SELECT count(*) FROM reseolio.jobs WHERE name = 'half-more'"),
                 ENQUEUES);
    ec_close(&w);
    ec_close(&app);
}

/*
 * A client half-closes with an AWAIT (no timeout) of a job nobody runs, then closes
 * entirely: the daemon notices within a few seconds and drops the connection and its AWAIT,
 * although no reply was ever due.
 */
Test(hostile, half_closed_client_that_then_closes_is_dropped)
{
    chaos_start(&d1, db, NULL);
    struct ec app;
    cr_assert_eq(ec_open(&app, d1.socket), 0);
    int64_t never = ec_enqueue_name(&app, "half-nobody-serves");
    cr_assert_gt(never, 0);
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_AWAIT;
    m.u.ref.job = (uint64_t)never;
    cr_assert_neq(ec_send(&app, &m), 0);
    cr_assert_eq(shutdown(app.fd, SHUT_WR), 0);
    cr_assert(
        daemon_proc_wait_log(&d1, "shut its sending side with 0 request(s) and 1 AWAIT(s)", T));
    ec_close(&app);
    cr_expect(
        daemon_proc_wait_log(&d1, "peer closed the connection (0 request(s) and 1 AWAIT(s)", T),
        "the daemon kept a connection whose peer is gone");
}
