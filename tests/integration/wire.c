/*
 * Raw protocol access for tests that must send what no real client would: bare frames,
 * bad lengths and bodies, messages out of order. Blocking, each read bounded in time.
 */
#include "wire.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* Connect to a Unix socket. */
int wire_connect(const char *path)
{
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)&addr, sizeof(addr)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Write all bytes. */
int wire_send_raw(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Header, then body. */
int wire_send_frame(int fd, const void *body, uint32_t len)
{
    uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                      (uint8_t)len};
    if (wire_send_raw(fd, hdr, sizeof(hdr)) != 0)
        return -1;
    return wire_send_raw(fd, body, len);
}

/* Encode with the protocol library and write. */
int wire_send_msg(int fd, const struct rs_msg *m)
{
    struct rs_buf b;
    rs_buf_init(&b, 0);
    int rc = -1;
    if (rs_msg_encode(&b, m) == RS_OK)
        rc = wire_send_raw(fd, b.data, b.len);
    rs_buf_free(&b);
    return rc;
}

/* HELLO with a chosen version and storage. */
int wire_send_hello(int fd, uint32_t rid, uint64_t version, const char *storage)
{
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_HELLO;
    m.request_id = rid;
    m.u.hello.version = version;
    m.u.hello.client = RS_STR("wire-test");
    if (storage != NULL)
        m.u.hello.storage = (struct rs_str){storage, (uint32_t)strlen(storage)};
    return wire_send_msg(fd, &m);
}

/* A message without fields. */
int wire_send_empty(int fd, enum rs_msg_type type, uint32_t rid)
{
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.request_id = rid;
    return wire_send_msg(fd, &m);
}

/* HELLO, WELCOME. */
int wire_handshake(int fd)
{
    if (wire_send_hello(fd, 1, RS_PROTOCOL_VERSION, NULL) != 0)
        return -1;
    struct wire_reply r;
    if (wire_recv(fd, WIRE_TIMEOUT_MS, &r) != 1)
        return -1;
    int rc = r.msg.type == RS_MSG_WELCOME && r.msg.request_id == 1 ? 0 : -1;
    wire_reply_free(&r);
    return rc;
}

/* Read exactly n bytes within the time left; 1 done, 0 EOF, -1 timeout or error. */
static int wire_read_full(int fd, uint8_t *p, size_t n, int timeout_ms)
{
    while (n > 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = poll(&pfd, 1, timeout_ms);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return -1;
        ssize_t r = recv(fd, p, n, 0);
        if (r == 0)
            return 0;
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return errno == ECONNRESET ? 0 : -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 1;
}

/* One frame, decoded. */
int wire_recv(int fd, int timeout_ms, struct wire_reply *r)
{
    memset(r, 0, sizeof(*r));
    uint8_t hdr[4];
    int rc = wire_read_full(fd, hdr, sizeof(hdr), timeout_ms);
    if (rc != 1)
        return rc;
    uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (len == 0 || len > RS_MAX_FRAME_HARD)
        return -1;
    r->body = malloc(len);
    if (r->body == NULL)
        return -1;
    rc = wire_read_full(fd, r->body, len, timeout_ms);
    if (rc != 1) {
        wire_reply_free(r);
        return rc == 0 ? 0 : -1;
    }
    struct rs_limits lim;
    struct rs_error err;
    rs_limits_default(&lim);
    if (rs_msg_decode(&r->msg, r->body, len, &lim, &err) != RS_OK) {
        fprintf(stderr, "wire: undecodable frame from the daemon: %s\n", err.message);
        free(r->body);
        memset(r, 0, sizeof(*r));
        return -1;
    }
    return 1;
}

/* Release a reply. */
void wire_reply_free(struct wire_reply *r)
{
    if (r->body != NULL)
        rs_msg_free(&r->msg);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* ERROR with this code? */
bool wire_is_error(const struct wire_reply *r, const char *code)
{
    return r->msg.type == RS_MSG_ERROR && r->msg.u.error.code.len == strlen(code) &&
           memcmp(r->msg.u.error.code.ptr, code, strlen(code)) == 0;
}

/* One ERROR of this code, for rid unless any_id. */
static bool wire_expect(int fd, const char *code, uint32_t rid, bool any_id)
{
    struct wire_reply r;
    if (wire_recv(fd, WIRE_TIMEOUT_MS, &r) != 1) {
        fprintf(stderr, "wire: expected ERROR %s, got no message\n", code);
        return false;
    }
    bool ok = wire_is_error(&r, code) && (any_id || r.msg.request_id == rid);
    if (!ok)
        fprintf(stderr, "wire: expected ERROR %s for request %u, got %s (request %u, code %.*s)\n",
                code, rid, rs_msg_type_name(r.msg.type), r.msg.request_id,
                r.msg.type == RS_MSG_ERROR ? (int)r.msg.u.error.code.len : 0,
                r.msg.type == RS_MSG_ERROR ? r.msg.u.error.code.ptr : "");
    wire_reply_free(&r);
    return ok;
}

/* One ERROR of this code for rid. */
bool wire_expect_error(int fd, const char *code, uint32_t rid)
{
    return wire_expect(fd, code, rid, false);
}

/* One ERROR of this code, whatever its request id. */
bool wire_expect_error_code(int fd, const char *code)
{
    return wire_expect(fd, code, 0, true);
}

/* Skip whatever comes until the peer closes, within the time bound. */
bool wire_closed(int fd, int timeout_ms)
{
    uint8_t buf[4096];
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = poll(&pfd, 1, timeout_ms);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return false;
        ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return true;
        if (r < 0 && errno != EINTR && errno != EAGAIN)
            return false;
    }
}

/* The child becomes the user and reports by its exit status: 0 WELCOME, 1 closed, 10 setuid
 * failed, 11 connect failed, 12 neither served nor closed. */
enum wire_seen wire_try_as(const char *path, uid_t uid, gid_t gid, const gid_t *groups, size_t n,
                           int *status)
{
    pid_t pid = fork();
    if (pid < 0)
        return WIRE_SEEN_OTHER;
    if (pid == 0) {
        if (setgroups(n, groups) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
            _exit(10);
        int fd = wire_connect(path);
        if (fd < 0)
            _exit(11);
        /* The daemon decides at accept: a refused peer's HELLO meets a closed socket. */
        if (wire_handshake(fd) == 0)
            _exit(WIRE_SEEN_WELCOME);
        _exit(wire_closed(fd, WIRE_TIMEOUT_MS) ? WIRE_SEEN_CLOSED : 12);
    }
    int st = -1;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (status != NULL)
        *status = st;
    if (WIFEXITED(st) && WEXITSTATUS(st) == WIRE_SEEN_WELCOME)
        return WIRE_SEEN_WELCOME;
    if (WIFEXITED(st) && WEXITSTATUS(st) == WIRE_SEEN_CLOSED)
        return WIRE_SEEN_CLOSED;
    return WIRE_SEEN_OTHER;
}
