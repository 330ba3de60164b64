/*
 * The client's byte stream: a Unix socket to the daemon, frames out of a bounded buffer and
 * frames in through the protocol's frame reader. Nothing here waits except the connect; the
 * client's one poll loop decides when to read and write.
 */
#include "transport.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "reseolio/proto.h"

/* Monotonic milliseconds. */
static int64_t transport_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A deadline timeout_ms from now. */
int64_t transport_deadline(int64_t timeout_ms)
{
    if (timeout_ms < 0)
        return TRANSPORT_FOREVER;
    return transport_now() + timeout_ms;
}

/* Milliseconds left, as poll(2) takes them. */
int transport_poll_ms(int64_t deadline)
{
    if (deadline == TRANSPORT_FOREVER)
        return -1;
    int64_t left = deadline - transport_now();
    if (left <= 0)
        return 0;
    return left > 60000 ? 60000 : (int)left;
}

/* Whether a deadline passed. */
int transport_expired(int64_t deadline)
{
    return deadline != TRANSPORT_FOREVER && transport_now() >= deadline;
}

/* Socket, connect, and wait for a connect that the kernel could not finish at once. */
enum rs_client_status transport_connect(struct transport *t, const char *path, int64_t deadline,
                                        char *err, size_t errlen)
{
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(addr.sun_path)) {
        snprintf(err, errlen, "socket path must be 1..%zu bytes", sizeof(addr.sun_path) - 1);
        return RS_CLIENT_E_ARG;
    }
    memcpy(addr.sun_path, path, n + 1);

    t->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (t->fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return RS_CLIENT_E_CONNECT;
    }
    if (connect(t->fd, (const struct sockaddr *)&addr, sizeof(addr)) == 0)
        return RS_CLIENT_OK;
    if (errno != EAGAIN && errno != EINPROGRESS && errno != EINTR) {
        snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(errno));
        return RS_CLIENT_E_CONNECT;
    }
    /* The listen backlog is full: wait for room, then ask how it ended. */
    for (;;) {
        struct pollfd p = {.fd = t->fd, .events = POLLOUT};
        int r = poll(&p, 1, transport_poll_ms(deadline));
        if (r > 0)
            break;
        if (r < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            return RS_CLIENT_E_CONNECT;
        }
        if (transport_expired(deadline)) {
            snprintf(err, errlen, "timed out connecting to %s", path);
            return RS_CLIENT_E_TIMEOUT;
        }
    }
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        soerr = errno;
    if (soerr != 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(soerr));
        return RS_CLIENT_E_CONNECT;
    }
    return RS_CLIENT_OK;
}

/* Write queued bytes until the socket is full or the queue is empty. */
enum rs_client_status transport_write(struct transport *t, char *err, size_t errlen)
{
    while (t->out.len > 0) {
        ssize_t n = send(t->fd, t->out.data, t->out.len, MSG_NOSIGNAL);
        if (n >= 0) {
            rs_buf_consume(&t->out, (size_t)n);
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return RS_CLIENT_OK;
        snprintf(err, errlen, "cannot write to the daemon: %s", strerror(errno));
        return RS_CLIENT_E_IO;
    }
    return RS_CLIENT_OK;
}

/* Read once into the reader's free space. */
enum transport_read transport_read(struct transport *t, char *err, size_t errlen)
{
    size_t avail = 0;
    uint8_t *space = rs_reader_space(&t->in, &avail);
    if (space == NULL) {
        snprintf(err, errlen, "out of memory reading from the daemon");
        return TRANSPORT_READ_ERROR;
    }
    for (;;) {
        ssize_t n = recv(t->fd, space, avail, 0);
        if (n > 0) {
            rs_reader_commit(&t->in, (size_t)n);
            return TRANSPORT_READ_DATA;
        }
        if (n == 0)
            return TRANSPORT_READ_EOF;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return TRANSPORT_READ_AGAIN;
        snprintf(err, errlen, "cannot read from the daemon: %s", strerror(errno));
        return TRANSPORT_READ_ERROR;
    }
}

/* Close and release. */
void transport_close(struct transport *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    rs_reader_free(&t->in);
    rs_buf_free(&t->out);
}
