/*
 * The session rules against the real daemon: HELLO/WELCOME through libreseolio, PING, what
 * comes before HELLO, versions, storage identity, and the answers to every other type.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon_proc.h"
#include "reseolio.h"
#include "wire.h"

static struct daemon_proc dmn;

/* A daemon with default settings for each test. */
static void start_default(void)
{
    cr_assert_eq(daemon_proc_init(&dmn), 0);
    cr_assert_eq(daemon_proc_start(&dmn, NULL), 0, "reseoliod did not get ready");
}

/* The harness's socket directory, from RESEOLIO_TEST_PG ("host=<dir> port=..."). */
static const char *pg_host(void)
{
    static char host[256];
    const char *pg = getenv("RESEOLIO_TEST_PG");
    cr_assert_not_null(pg, "run under tests/harness/with-postgres");
    cr_assert_eq(sscanf(pg, "host=%255s", host), 1, "unexpected RESEOLIO_TEST_PG %s", pg);
    return host;
}

/* How the daemon shows the harness's database. */
static const char *pg_display(void)
{
    static char shown[512];
    snprintf(shown, sizeof(shown), "postgresql://postgres@%s:5432/postgres", pg_host());
    return shown;
}

/* A daemon that serves the harness's database through a conninfo that holds a password. */
static void start_with_storage(void)
{
    static char storage[512];
    snprintf(storage, sizeof(storage),
             "host=%s port=5432 dbname=postgres user=postgres "
             "password=hunter2",
             pg_host());
    const char *const args[] = {"--storage", storage, NULL};
    struct daemon_opts o = {.args = args};
    cr_assert_eq(daemon_proc_init(&dmn), 0);
    cr_assert_eq(daemon_proc_start(&dmn, &o), 0, "reseoliod did not get ready");
}

/* Stop it; a clean exit also proves no leak under LeakSanitizer. */
static void stop(void)
{
    int st = daemon_proc_stop(&dmn);
    daemon_proc_cleanup(&dmn);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "reseoliod exit status %#x", st);
}

Test(handshake, client_connects_and_pings, .init = start_default, .fini = stop)
{
    struct rs_client_opts opts;
    rs_client_opts_init(&opts);
    opts.name = "test-handshake";
    struct rs_client *c = NULL;
    char *err = NULL;
    enum rs_client_status st = rs_client_connect(dmn.socket, &opts, &c, &err);
    cr_assert_eq(st, RS_CLIENT_OK, "connect: %s", err ? err : "?");
    const struct rs_client_welcome *w = rs_client_welcome(c);
    cr_expect_eq(w->version, 1);
    cr_expect_eq(strlen(w->node), 32);
    cr_expect_eq(strspn(w->node, "0123456789abcdef"), 32, "node id %s", w->node);
    cr_expect(strncmp(w->server, "reseoliod/", 10) == 0, "server %s", w->server);
    cr_expect_eq(w->max_frame, 1048576);
    cr_expect_str_eq(w->storage, pg_display());
    for (int i = 0; i < 3; i++)
        cr_expect_eq(rs_client_ping(c), RS_CLIENT_OK, "ping: %s", rs_client_errmsg(c));
    cr_expect_geq(rs_client_fd(c), 0);
    rs_client_close(c);
    cr_expect(daemon_proc_wait_log(&dmn, "HELLO from test-handshake", WIRE_TIMEOUT_MS));
}

Test(handshake, client_finds_socket_by_environment, .init = start_default, .fini = stop)
{
    setenv("RESEOLIO_SOCKET", dmn.socket, 1);
    struct rs_client *c = NULL;
    char *err = NULL;
    cr_assert_eq(rs_client_connect(NULL, NULL, &c, &err), RS_CLIENT_OK, "%s", err ? err : "?");
    rs_client_close(c);
    unsetenv("RESEOLIO_SOCKET");
}

Test(handshake, connect_without_daemon_is_an_error_value)
{
    struct rs_client *c = (struct rs_client *)1;
    char *err = NULL;
    enum rs_client_status st = rs_client_connect("/nonexistent/reseolio.sock", NULL, &c, &err);
    cr_expect_eq(st, RS_CLIENT_E_CONNECT);
    cr_expect_null(c);
    cr_assert_not_null(err);
    cr_expect(strstr(err, "/nonexistent/reseolio.sock") != NULL, "%s", err);
    free(err);
}

Test(handshake, ping_pong_echoes_request_id, .init = start_default, .fini = stop)
{
    int fd = wire_connect(dmn.socket);
    cr_assert_geq(fd, 0);
    cr_assert_eq(wire_handshake(fd), 0);
    cr_assert_eq(wire_send_empty(fd, RS_MSG_PING, 4000000000u), 0);
    struct wire_reply r;
    cr_assert_eq(wire_recv(fd, WIRE_TIMEOUT_MS, &r), 1);
    cr_expect_eq(r.msg.type, RS_MSG_PONG);
    cr_expect_eq(r.msg.request_id, 4000000000u);
    wire_reply_free(&r);
    close(fd);
}

Test(handshake, message_before_hello_is_refused_and_closed, .init = start_default, .fini = stop)
{
    int fd = wire_connect(dmn.socket);
    cr_assert_geq(fd, 0);
    cr_assert_eq(wire_send_empty(fd, RS_MSG_PING, 5), 0);
    cr_expect(wire_expect_error(fd, "handshake_required", 5));
    cr_expect(wire_closed(fd, WIRE_TIMEOUT_MS), "connection still open");
    close(fd);
}

Test(handshake, second_hello_is_refused_and_closed, .init = start_default, .fini = stop)
{
    int fd = wire_connect(dmn.socket);
    cr_assert_geq(fd, 0);
    cr_assert_eq(wire_handshake(fd), 0);
    cr_assert_eq(wire_send_hello(fd, 2, 1, NULL), 0);
    cr_expect(wire_expect_error(fd, "handshake_required", 2));
    cr_expect(wire_closed(fd, WIRE_TIMEOUT_MS));
    close(fd);
}

Test(handshake, wrong_version_is_refused_and_closed, .init = start_default, .fini = stop)
{
    int fd = wire_connect(dmn.socket);
    cr_assert_geq(fd, 0);
    cr_assert_eq(wire_send_hello(fd, 3, 2, NULL), 0);
    cr_expect(wire_expect_error(fd, "unsupported_version", 3));
    cr_expect(wire_closed(fd, WIRE_TIMEOUT_MS));
    close(fd);
}

Test(handshake, storage_mismatch_is_refused, .init = start_with_storage, .fini = stop)
{
    struct rs_client_opts opts;
    rs_client_opts_init(&opts);
    char other[512];
    snprintf(other, sizeof(other), "host=%s port=5432 dbname=orders user=postgres password=hunter2",
             pg_host());
    opts.storage = other;
    struct rs_client *c = NULL;
    char *err = NULL;
    cr_assert_eq(rs_client_connect(dmn.socket, &opts, &c, &err), RS_CLIENT_E_SERVER);
    cr_assert_not_null(err);
    cr_expect(strstr(err, "storage_mismatch") != NULL, "%s", err);
    cr_expect(strstr(err, "hunter2") == NULL, "password echoed: %s", err);
    free(err);

    /* Raw: the ERROR carries the request id, then the daemon closes. */
    int fd = wire_connect(dmn.socket);
    cr_assert_geq(fd, 0);
    cr_assert_eq(wire_send_hello(fd, 9, 1, "dbname=other"), 0);
    cr_expect(wire_expect_error(fd, "storage_mismatch", 9));
    cr_expect(wire_closed(fd, WIRE_TIMEOUT_MS));
    close(fd);

    /* Unparsable storage is a mismatch too, and is not repeated back. */
    fd = wire_connect(dmn.socket);
    cr_assert_geq(fd, 0);
    cr_assert_eq(wire_send_hello(fd, 10, 1, "host='unterminated password=hunter2"), 0);
    cr_expect(wire_expect_error(fd, "storage_mismatch", 10));
    close(fd);
    cr_expect(!daemon_proc_log_has(&dmn, "hunter2"), "a password reached the log");
}

Test(handshake, same_storage_written_differently_is_accepted, .init = start_with_storage,
     .fini = stop)
{
    struct rs_client_opts opts;
    rs_client_opts_init(&opts);
    /* The same database as a URL: the socket directory percent-encoded, another password. */
    char url[768], *p = url;
    p += sprintf(p, "postgresql://postgres:other@");
    for (const char *h = pg_host(); *h != '\0'; h++)
        p += *h == '/' ? sprintf(p, "%%2F") : sprintf(p, "%c", *h);
    sprintf(p, ":5432/postgres");
    opts.storage = url;
    struct rs_client *c = NULL;
    char *err = NULL;
    cr_assert_eq(rs_client_connect(dmn.socket, &opts, &c, &err), RS_CLIENT_OK, "%s",
                 err ? err : "?");
    const char *shown = rs_client_welcome(c)->storage;
    cr_expect_str_eq(shown, pg_display());
    rs_client_close(c);
    cr_expect(!daemon_proc_log_has(&dmn, "hunter2"), "a password reached the log");
    cr_expect(!daemon_proc_log_has(&dmn, "password=other"), "a password reached the log");
}

Test(handshake, engine_requests_are_served_after_the_handshake, .init = start_default, .fini = stop)
{
    cr_assert(daemon_proc_wait_log(&dmn, "job engine ready", DAEMON_PROC_TIMEOUT_MS));
    int fd = wire_connect(dmn.socket);
    cr_assert_geq(fd, 0);
    cr_assert_eq(wire_handshake(fd), 0);

    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_GET;
    m.request_id = 21;
    m.u.ref.job = 1;
    cr_assert_eq(wire_send_msg(fd, &m), 0);
    struct wire_reply r;
    cr_assert_eq(wire_recv(fd, WIRE_TIMEOUT_MS, &r), 1);
    /* Job 1 may exist in the shared database (another test made it) or not. */
    cr_expect(r.msg.type == RS_MSG_JOB || wire_is_error(&r, "not_found"));
    cr_expect_eq(r.msg.request_id, 21);
    wire_reply_free(&r);

    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_ENQUEUE;
    m.request_id = 22;
    m.u.enqueue.name = RS_STR("orders:charge");
    cr_assert_eq(wire_send_msg(fd, &m), 0);
    cr_assert_eq(wire_recv(fd, WIRE_TIMEOUT_MS, &r), 1);
    cr_expect_eq(r.msg.type, RS_MSG_ENQUEUED);
    cr_expect_eq(r.msg.request_id, 22);
    wire_reply_free(&r);

    /* A reply type sent to the daemon: unexpected, and the connection stays. */
    cr_assert_eq(wire_send_empty(fd, RS_MSG_PONG, 23), 0);
    cr_expect(wire_expect_error(fd, "unexpected", 23));
    cr_assert_eq(wire_send_empty(fd, RS_MSG_PING, 24), 0);
    cr_assert_eq(wire_recv(fd, WIRE_TIMEOUT_MS, &r), 1);
    cr_expect_eq(r.msg.type, RS_MSG_PONG);
    wire_reply_free(&r);
    close(fd);
}

Test(handshake, silent_connection_is_dropped_after_the_handshake_deadline, .init = start_default,
     .fini = stop)
{
    int fd = wire_connect(dmn.socket);
    cr_assert_geq(fd, 0);
    /* The daemon allows 10 s for HELLO; give it twice that before calling it a hang. */
    struct wire_reply r;
    cr_assert_eq(wire_recv(fd, 2 * WIRE_TIMEOUT_MS, &r), 1, "no ERROR for a silent client");
    cr_expect(wire_is_error(&r, "handshake_required"));
    wire_reply_free(&r);
    cr_expect(wire_closed(fd, WIRE_TIMEOUT_MS));
    close(fd);
    cr_expect(daemon_proc_wait_log(&dmn, "no HELLO within", WIRE_TIMEOUT_MS));
}
