/*
 * A fake reseoliod for unit tests of libreseolio: it listens on a private socket, answers the
 * handshake, then a test's script (on its own thread) plays the daemon's side message by
 * message, so that replies can come out of order, late, wrong, or not at all.
 */
#include "fakepeer.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "reseolio/proto.h"

bool fp_check(struct fakepeer *p, bool cond, const char *fmt, ...)
{
    if (cond || !p->ok)
        return cond;
    p->ok = false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->failure, sizeof(p->failure), fmt, ap);
    va_end(ap);
    return false;
}

/* Write all of buf. */
static bool fp_write(struct fakepeer *p, const uint8_t *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = send(p->fd, buf, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && p->may_be_gone && (errno == EPIPE || errno == ECONNRESET))
            return false;
        if (w < 0)
            return fp_check(p, false, "send: %s", strerror(errno));
        buf += w;
        n -= (size_t)w;
    }
    return true;
}

bool fp_send(struct fakepeer *p, const struct rs_msg *m)
{
    struct rs_buf b;
    rs_buf_init(&b, 0);
    bool ok =
        fp_check(p, rs_msg_encode(&b, m) == RS_OK, "cannot encode %s", rs_msg_type_name(m->type)) &&
        fp_write(p, b.data, b.len);
    rs_buf_free(&b);
    return ok;
}

int fp_recv(struct fakepeer *p, struct fp_msg *out)
{
    memset(out, 0, sizeof(*out));
    for (;;) {
        const uint8_t *body;
        uint32_t len;
        int r = rs_reader_next(&p->in, &body, &len);
        if (r < 0) {
            fp_check(p, false, "the client sent a bad frame");
            return -1;
        }
        if (r > 0) {
            out->body = malloc(len);
            memcpy(out->body, body, len);
            struct rs_limits lim;
            struct rs_error err;
            rs_limits_default(&lim);
            if (rs_msg_decode(&out->m, out->body, len, &lim, &err) != RS_OK) {
                fp_check(p, false, "the client sent an undecodable body: %s", err.message);
                free(out->body);
                out->body = NULL;
                return -1;
            }
            return 1;
        }
        struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
        int n = poll(&pfd, 1, FP_TIMEOUT_MS);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fp_check(p, false, "no message from the client in time");
            return -1;
        }
        size_t avail;
        uint8_t *space = rs_reader_space(&p->in, &avail);
        if (space == NULL)
            return -1;
        ssize_t got = recv(p->fd, space, avail, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return 0;
        rs_reader_commit(&p->in, (size_t)got);
    }
}

bool fp_expect(struct fakepeer *p, enum rs_msg_type type, struct fp_msg *out)
{
    int r = fp_recv(p, out);
    if (r <= 0)
        return fp_check(p, false, "expected %s, got %s", rs_msg_type_name(type),
                        r == 0 ? "a close" : "nothing");
    if (out->m.type != type) {
        fp_check(p, false, "expected %s, got %s", rs_msg_type_name(type),
                 rs_msg_type_name(out->m.type));
        fp_msg_free(out);
        return false;
    }
    return true;
}

void fp_msg_free(struct fp_msg *m)
{
    rs_msg_free(&m->m);
    free(m->body);
    m->body = NULL;
}

bool fp_send_empty(struct fakepeer *p, enum rs_msg_type type, uint32_t rid)
{
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.request_id = rid;
    return fp_send(p, &m);
}

bool fp_send_error(struct fakepeer *p, uint32_t rid, const char *code, const char *message,
                   bool retryable)
{
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_ERROR;
    m.request_id = rid;
    m.u.error.code = (struct rs_str){code, (uint32_t)strlen(code)};
    m.u.error.message = (struct rs_str){message, (uint32_t)strlen(message)};
    if (retryable) {
        m.u.error.has = RS_HAS_RETRYABLE;
        m.u.error.retryable = true;
    }
    return fp_send(p, &m);
}

bool fp_send_job(struct fakepeer *p, uint32_t rid, uint64_t job, const char *name,
                 enum rs_status status)
{
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_JOB;
    m.request_id = rid;
    m.u.job.id = job;
    m.u.job.name = (struct rs_str){name, (uint32_t)strlen(name)};
    m.u.job.status = status;
    m.u.job.max_attempts = 3;
    m.u.job.created_at = 1700000000000;
    m.u.job.run_at = 1700000000000;
    return fp_send(p, &m);
}

bool fp_send_enqueued(struct fakepeer *p, uint32_t rid, uint64_t job, bool dedup)
{
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_ENQUEUED;
    m.request_id = rid;
    m.u.enqueued.job = job;
    m.u.enqueued.deduplicated = dedup;
    return fp_send(p, &m);
}

bool fp_send_dispatch(struct fakepeer *p, uint64_t job, const char *name, const void *args,
                      uint32_t args_len, uint64_t attempt)
{
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_DISPATCH;
    m.u.dispatch.job = job;
    m.u.dispatch.name = (struct rs_str){name, (uint32_t)strlen(name)};
    m.u.dispatch.args = (struct rs_bytes){args, args_len};
    m.u.dispatch.attempt = attempt;
    m.u.dispatch.max_attempts = 3;
    m.u.dispatch.deadline = 1700000030000;
    return fp_send(p, &m);
}

bool fp_send_abandon(struct fakepeer *p, uint64_t job, uint64_t attempt)
{
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_ABANDON;
    m.u.abandon.job = job;
    m.u.abandon.attempt = attempt;
    m.u.abandon.reason = RS_ABANDON_TIMEOUT;
    return fp_send(p, &m);
}

bool fp_wait_closed(struct fakepeer *p)
{
    for (;;) {
        struct fp_msg m;
        int r = fp_recv(p, &m);
        if (r == 0)
            return true;
        if (r < 0)
            return false;
        fp_msg_free(&m);
    }
}

void fp_hangup(struct fakepeer *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
}

/* Accept the client, answer its HELLO, run the script. */
static void *fp_main(void *arg)
{
    struct fakepeer *p = arg;
    /* Signals a test raises are for the thread under test, not for the daemon's side. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    struct pollfd pfd = {.fd = p->lfd, .events = POLLIN};
    if (!fp_check(p, poll(&pfd, 1, FP_TIMEOUT_MS) == 1, "the client did not connect"))
        return NULL;
    p->fd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (!fp_check(p, p->fd >= 0, "accept: %s", strerror(errno)))
        return NULL;
    struct fp_msg hello;
    if (!fp_expect(p, RS_MSG_HELLO, &hello))
        return NULL;
    struct rs_msg w;
    memset(&w, 0, sizeof(w));
    w.type = RS_MSG_WELCOME;
    w.request_id = hello.m.request_id;
    w.u.welcome.version = RS_PROTOCOL_VERSION;
    w.u.welcome.node = RS_STR("0123456789abcdef0123456789abcdef");
    w.u.welcome.server = RS_STR("fakepeer/0");
    w.u.welcome.max_frame = RS_MAX_FRAME_DEFAULT;
    w.u.welcome.storage = RS_STR("fake");
    fp_msg_free(&hello);
    rs_reader_set_max(&p->in, RS_MAX_FRAME_DEFAULT);
    if (fp_send(p, &w) && p->script != NULL)
        p->script(p, p->arg);
    /* A script that ended (or failed) hangs up, so a client waiting on it fails, not hangs. */
    fp_hangup(p);
    return NULL;
}

int fp_start(struct fakepeer *p, fp_script script, void *arg)
{
    memset(p, 0, sizeof(*p));
    p->ok = true;
    p->fd = -1;
    p->script = script;
    p->arg = arg;
    rs_reader_init(&p->in, RS_MAX_FRAME_PREHELLO);
    snprintf(p->dir, sizeof(p->dir), "/tmp/rs-fakepeer-XXXXXX");
    if (mkdtemp(p->dir) == NULL)
        return -1;
    snprintf(p->path, sizeof(p->path), "%s/fake.sock", p->dir);
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", p->path);
    p->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        listen(p->lfd, 4) != 0)
        return -1;
    return pthread_create(&p->thread, NULL, fp_main, p) == 0 ? 0 : -1;
}

bool fp_finish(struct fakepeer *p)
{
    pthread_join(p->thread, NULL);
    fp_hangup(p);
    close(p->lfd);
    unlink(p->path);
    rmdir(p->dir);
    rs_reader_free(&p->in);
    return p->ok;
}
