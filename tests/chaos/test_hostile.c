/*
 * Chaos, hostile input: names, keys and payloads built to break SQL; a storage password that
 * must never show; clients that send one byte at a time.
 */
#include <fcntl.h>
#include <poll.h>
#include <string.h>
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
