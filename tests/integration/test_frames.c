/*
 * Bad input against the real daemon: framing errors close only the offending connection,
 * body errors keep it, limits hold before and after HELLO, caps drop only who breaks them.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon_proc.h"
#include "reseolio.h"
#include "wire.h"

static struct daemon_proc dmn;

/* A daemon with default settings. */
static void start_default(void)
{
    cr_assert_eq(daemon_proc_init(&dmn), 0);
    cr_assert_eq(daemon_proc_start(&dmn, NULL), 0, "reseoliod did not get ready");
}

/* A daemon that serves two connections at most. */
static void start_capped(void)
{
    static const char *const args[] = {"--max-connections", "2", NULL};
    struct daemon_opts o = {.args = args};
    cr_assert_eq(daemon_proc_init(&dmn), 0);
    cr_assert_eq(daemon_proc_start(&dmn, &o), 0, "reseoliod did not get ready");
}

/* A daemon with the smallest frame limit (and so the smallest output cap). */
static void start_small_frames(void)
{
    static const char *const args[] = {"--max-frame", "4096", NULL};
    struct daemon_opts o = {.args = args};
    cr_assert_eq(daemon_proc_init(&dmn), 0);
    cr_assert_eq(daemon_proc_start(&dmn, &o), 0, "reseoliod did not get ready");
}

/* Stop it: it must exit 0 whatever was sent to it. */
static void stop(void)
{
    int st = daemon_proc_stop(&dmn);
    daemon_proc_cleanup(&dmn);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "reseoliod exit status %#x", st);
}

/* A fresh client still gets served: the daemon survived what came before. */
static void assert_still_serves(void)
{
    struct rs_client *c = NULL;
    char *err = NULL;
    cr_assert_eq(rs_client_connect(dmn.socket, NULL, &c, &err), RS_CLIENT_OK, "%s",
                 err ? err : "?");
    cr_expect_eq(rs_client_ping(c), RS_CLIENT_OK, "%s", rs_client_errmsg(c));
    rs_client_close(c);
}

/* Send a bare 4-byte header and expect ERROR code (request 0), then the close. */
static void expect_framing_error(int fd, const uint8_t hdr[4], const char *code)
{
    cr_assert_eq(wire_send_raw(fd, hdr, 4), 0);
    cr_expect(wire_expect_error(fd, code, 0));
    cr_expect(wire_closed(fd, WIRE_TIMEOUT_MS), "connection still open after %s", code);
}

Test(frames, length_zero_closes_only_that_connection, .init = start_default, .fini = stop)
{
    int other = wire_connect(dmn.socket);
    cr_assert_geq(other, 0);
    cr_assert_eq(wire_handshake(other), 0);

    int fd = wire_connect(dmn.socket);
    cr_assert_geq(fd, 0);
    cr_assert_eq(wire_handshake(fd), 0);
    static const uint8_t zero[4] = {0, 0, 0, 0};
    expect_framing_error(fd, zero, "empty_frame");
    close(fd);

    /* The connection that behaved is unaffected. */
    cr_assert_eq(wire_send_empty(other, RS_MSG_PING, 2), 0);
    struct wire_reply r;
    cr_assert_eq(wire_recv(other, WIRE_TIMEOUT_MS, &r), 1);
    cr_expect_eq(r.msg.type, RS_MSG_PONG);
    wire_reply_free(&r);
    close(other);
    assert_still_serves();
}

Test(frames, length_ffffffff_is_refused_from_the_header, .init = start_default, .fini = stop)
{
    int fd = wire_connect(dmn.socket);
    cr_assert_geq(fd, 0);
    cr_assert_eq(wire_handshake(fd), 0);
    static const uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};
    expect_framing_error(fd, huge, "frame_too_large");
    close(fd);
    assert_still_serves();
}

Test(frames, prehello_limit_is_4096, .init = start_default, .fini = stop)
{
    int fd = wire_connect(dmn.socket);
    cr_assert_geq(fd, 0);
    static const uint8_t over[4] = {0, 0, 0x10, 0x01}; /* 4097 */
    expect_framing_error(fd, over, "frame_too_large");
    close(fd);

    /* Exactly 4096 is fine: a HELLO padded with an unknown field. */
    uint8_t body[4096];
    static const uint8_t head[] = {0x93, 0x01, 0x01, 0x83, 0xa7, 'v', 'e', 'r', 's',
                                   'i',  'o',  'n',  0x01, 0xa6, 'c', 'l', 'i', 'e',
                                   'n',  't',  0xa1, 'x',  0xa3, 'p', 'a', 'd', 0xda};
    size_t pad = sizeof(body) - sizeof(head) - 2;
    memcpy(body, head, sizeof(head));
    body[sizeof(head)] = (uint8_t)(pad >> 8);
    body[sizeof(head) + 1] = (uint8_t)pad;
    memset(body + sizeof(head) + 2, 'p', pad);
    fd = wire_connect(dmn.socket);
    cr_assert_geq(fd, 0);
    cr_assert_eq(wire_send_frame(fd, body, sizeof(body)), 0);
    struct wire_reply r;
    cr_assert_eq(wire_recv(fd, WIRE_TIMEOUT_MS, &r), 1);
    cr_expect_eq(r.msg.type, RS_MSG_WELCOME);
    wire_reply_free(&r);
    close(fd);
}

Test(frames, limit_rises_after_welcome, .init = start_default, .fini = stop)
{
    int fd = wire_connect(dmn.socket);
    cr_assert_geq(fd, 0);
    cr_assert_eq(wire_handshake(fd), 0);
    /* 8000 bytes of garbage: above the pre-HELLO limit, so only a body error now. */
    static uint8_t junk[8000];
    memset(junk, 0xc1, sizeof(junk));
    cr_assert_eq(wire_send_frame(fd, junk, sizeof(junk)), 0);
    cr_expect(wire_expect_error(fd, "malformed", 0));
    cr_assert_eq(wire_send_empty(fd, RS_MSG_PING, 3), 0);
    struct wire_reply r;
    cr_assert_eq(wire_recv(fd, WIRE_TIMEOUT_MS, &r), 1);
    cr_expect_eq(r.msg.type, RS_MSG_PONG);
    wire_reply_free(&r);
    close(fd);
}

Test(frames, garbage_body_keeps_the_connection, .init = start_default, .fini = stop)
{
    int fd = wire_connect(dmn.socket);
    cr_assert_geq(fd, 0);
    cr_assert_eq(wire_handshake(fd), 0);

    static const uint8_t garbage[] = {0xc1};
    cr_assert_eq(wire_send_frame(fd, garbage, sizeof(garbage)), 0);
    cr_expect(wire_expect_error(fd, "malformed", 0));

    /* An array bomb: a declared count far above the bytes there. */
    static const uint8_t bomb[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    cr_assert_eq(wire_send_frame(fd, bomb, sizeof(bomb)), 0);
    cr_expect(wire_expect_error(fd, "too_many_elements", 0));

    /* A readable envelope with a bad field map: the ERROR names the request. */
    static const uint8_t bad_fields[] = {0x93, 0x04, 0x11, 0x05};
    cr_assert_eq(wire_send_frame(fd, bad_fields, sizeof(bad_fields)), 0);
    cr_expect(wire_expect_error(fd, "bad_envelope", 0x11));

    /* An unknown type. */
    static const uint8_t unknown[] = {0x93, 0x7f, 0x12, 0x80};
    cr_assert_eq(wire_send_frame(fd, unknown, sizeof(unknown)), 0);
    cr_expect(wire_expect_error(fd, "unknown_type", 0x12));

    cr_assert_eq(wire_send_empty(fd, RS_MSG_PING, 7), 0);
    struct wire_reply r;
    cr_assert_eq(wire_recv(fd, WIRE_TIMEOUT_MS, &r), 1);
    cr_expect_eq(r.msg.type, RS_MSG_PONG);
    cr_expect_eq(r.msg.request_id, 7);
    wire_reply_free(&r);
    close(fd);
}

Test(frames, pipelined_pings_all_answered_in_order, .init = start_default, .fini = stop)
{
    enum { N = 2000 };
    int fd = wire_connect(dmn.socket);
    cr_assert_geq(fd, 0);
    cr_assert_eq(wire_handshake(fd), 0);
    struct rs_buf b;
    rs_buf_init(&b, 0);
    for (uint32_t i = 1; i <= N; i++) {
        struct rs_msg m;
        memset(&m, 0, sizeof(m));
        m.type = RS_MSG_PING;
        m.request_id = i;
        cr_assert_eq(rs_msg_encode(&b, &m), RS_OK);
    }
    cr_assert_eq(wire_send_raw(fd, b.data, b.len), 0);
    rs_buf_free(&b);
    for (uint32_t i = 1; i <= N; i++) {
        struct wire_reply r;
        cr_assert_eq(wire_recv(fd, WIRE_TIMEOUT_MS, &r), 1, "reply %u missing", i);
        cr_assert_eq(r.msg.type, RS_MSG_PONG);
        cr_assert_eq(r.msg.request_id, i);
        wire_reply_free(&r);
    }
    close(fd);
}

Test(frames, connection_cap_answers_limit, .init = start_capped, .fini = stop)
{
    int a = wire_connect(dmn.socket);
    int b = wire_connect(dmn.socket);
    cr_assert(a >= 0 && b >= 0);
    cr_assert_eq(wire_handshake(a), 0);
    cr_assert_eq(wire_handshake(b), 0);

    int c = wire_connect(dmn.socket);
    cr_assert_geq(c, 0);
    struct wire_reply r;
    cr_assert_eq(wire_recv(c, WIRE_TIMEOUT_MS, &r), 1, "no ERROR over the cap");
    cr_expect(wire_is_error(&r, "limit"));
    cr_expect_eq(r.msg.request_id, 0);
    wire_reply_free(&r);
    cr_expect(wire_closed(c, WIRE_TIMEOUT_MS));
    close(c);

    /* Through the library: an error value naming the code. */
    struct rs_client *cl = NULL;
    char *err = NULL;
    cr_expect_eq(rs_client_connect(dmn.socket, NULL, &cl, &err), RS_CLIENT_E_SERVER);
    cr_expect(err != NULL && strstr(err, "limit") != NULL, "%s", err ? err : "(null)");
    free(err);

    /* A slot freed is a slot to use. */
    close(a);
    cr_assert(daemon_proc_wait_log(&dmn, "conn 1 closed", WIRE_TIMEOUT_MS));
    assert_still_serves();
    close(b);
}

Test(frames, client_that_never_reads_is_dropped, .init = start_small_frames, .fini = stop)
{
    int fd = wire_connect(dmn.socket);
    cr_assert_geq(fd, 0);
    cr_assert_eq(wire_handshake(fd), 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

    /* PINGs, never reading a PONG, until the daemon hangs up (bounded). */
    struct rs_buf b;
    rs_buf_init(&b, 0);
    for (uint32_t i = 1; i <= 1024; i++) {
        struct rs_msg m;
        memset(&m, 0, sizeof(m));
        m.type = RS_MSG_PING;
        m.request_id = i;
        cr_assert_eq(rs_msg_encode(&b, &m), RS_OK);
    }
    /* Keep the stream whole across partial writes: frames must stay aligned. */
    bool dropped = false;
    size_t pos = 0;
    for (int round = 0; round < 200000 && !dropped; round++) {
        ssize_t w = send(fd, b.data + pos, b.len - pos, MSG_NOSIGNAL);
        if (w >= 0) {
            pos = (pos + (size_t)w) % b.len;
        } else if (errno == EAGAIN) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            (void)poll(&p, 1, 100);
        } else if (errno != EINTR) {
            dropped = true;
        }
    }
    rs_buf_free(&b);
    close(fd);
    cr_expect(dropped, "the daemon kept a client that never reads");
    cr_expect(daemon_proc_wait_log(&dmn, "output queue full", WIRE_TIMEOUT_MS));
    assert_still_serves();
}

Test(frames, more_bad_bodies_each_get_their_error, .init = start_default, .fini = stop)
{
    int fd = wire_connect(dmn.socket);
    cr_assert_geq(fd, 0);
    cr_assert_eq(wire_handshake(fd), 0);

    /* Nesting 33: [4, 1, {"x": [[[[...]]]]}]. */
    uint8_t deep[64];
    size_t n = 0;
    deep[n++] = 0x93;
    deep[n++] = 0x04;
    deep[n++] = 0x01;
    deep[n++] = 0x81;
    deep[n++] = 0xa1;
    deep[n++] = 'x';
    for (int i = 0; i < 33; i++)
        deep[n++] = 0x91;
    deep[n++] = 0xc0;
    cr_assert_eq(wire_send_frame(fd, deep, (uint32_t)n), 0);
    cr_expect(wire_expect_error_code(fd, "too_deep"));

    /* Trailing bytes after a complete PING. */
    static const uint8_t trailing[] = {0x93, 0x04, 0x02, 0x80, 0x00};
    cr_assert_eq(wire_send_frame(fd, trailing, sizeof(trailing)), 0);
    cr_expect(wire_expect_error_code(fd, "malformed"));

    /* Invalid UTF-8 in a function name: ENQUEUE {"name": "\xff"}. */
    static const uint8_t bad_utf8[] = {0x93, 0x10, 0x03, 0x81, 0xa4, 'n',
                                       'a',  'm',  'e',  0xa1, 0xff};
    cr_assert_eq(wire_send_frame(fd, bad_utf8, sizeof(bad_utf8)), 0);
    cr_expect(wire_expect_error(fd, "bad_value", 3));

    /* A known field of the wrong type: GET {"job": "1"}. */
    static const uint8_t bad_type[] = {0x93, 0x18, 0x04, 0x81, 0xa3, 'j', 'o', 'b', 0xa1, '1'};
    cr_assert_eq(wire_send_frame(fd, bad_type, sizeof(bad_type)), 0);
    cr_expect(wire_expect_error(fd, "bad_type", 4));

    /* A required field missing: GET {}. */
    static const uint8_t missing[] = {0x93, 0x18, 0x05, 0x80};
    cr_assert_eq(wire_send_frame(fd, missing, sizeof(missing)), 0);
    cr_expect(wire_expect_error(fd, "missing_field", 5));

    cr_assert_eq(wire_send_empty(fd, RS_MSG_PING, 6), 0);
    struct wire_reply r;
    cr_assert_eq(wire_recv(fd, WIRE_TIMEOUT_MS, &r), 1);
    cr_expect_eq(r.msg.type, RS_MSG_PONG);
    cr_expect_eq(r.msg.request_id, 6);
    wire_reply_free(&r);
    close(fd);
}

Test(frames, truncated_frames_then_close_harm_nobody, .init = start_default, .fini = stop)
{
    /* Half a header. */
    int fd = wire_connect(dmn.socket);
    cr_assert_geq(fd, 0);
    static const uint8_t half[] = {0x00, 0x00};
    cr_assert_eq(wire_send_raw(fd, half, sizeof(half)), 0);
    close(fd);

    /* A header announcing 100 bytes, 3 of them sent. */
    fd = wire_connect(dmn.socket);
    cr_assert_geq(fd, 0);
    cr_assert_eq(wire_handshake(fd), 0);
    static const uint8_t partial[] = {0x00, 0x00, 0x00, 0x64, 0x93, 0x04, 0x01};
    cr_assert_eq(wire_send_raw(fd, partial, sizeof(partial)), 0);
    close(fd);

    cr_expect(daemon_proc_wait_log(&dmn, "conn 2 closed: peer closed", WIRE_TIMEOUT_MS));
    assert_still_serves();
}

Test(frames, too_many_bad_bodies_close_the_connection, .init = start_default, .fini = stop)
{
    int fd = wire_connect(dmn.socket);
    cr_assert_geq(fd, 0);
    cr_assert_eq(wire_handshake(fd), 0);
    static const uint8_t garbage[] = {0x00, 0x00, 0x00, 0x01, 0xc1};
    for (int i = 0; i < 101; i++)
        cr_assert_eq(wire_send_raw(fd, garbage, sizeof(garbage)), 0);
    for (int i = 0; i < 101; i++)
        cr_assert(wire_expect_error(fd, "malformed", 0), "error %d missing", i);
    cr_expect(wire_closed(fd, WIRE_TIMEOUT_MS), "still open after 101 bad bodies");
    close(fd);
    cr_expect(daemon_proc_wait_log(&dmn, "malformed messages", WIRE_TIMEOUT_MS));
}
