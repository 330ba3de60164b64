/*
 * The client's byte stream: a Unix socket to the daemon, frames out of a bounded buffer and
 * frames in through the protocol's frame reader, each blocking step bounded by a deadline.
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
int64_t transport_deadline(int timeout_ms)
{
    if (timeout_ms < 0)
        return TRANSPORT_FOREVER;
    return transport_now() + timeout_ms;
}

/* Wait until fd is ready for events or the deadline passes. */
static enum rs_client_status transport_wait(int fd, short events, int64_t deadline, char *err,
                                            size_t errlen)
{
    for (;;) {
        int timeout = -1;
        if (deadline != TRANSPORT_FOREVER) {
            int64_t left = deadline - transport_now();
            if (left <= 0) {
                snprintf(err, errlen, "timed out waiting for the daemon");
                return RS_CLIENT_E_TIMEOUT;
            }
            timeout = left > 60000 ? 60000 : (int)left;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, timeout);
        if (n > 0)
            return RS_CLIENT_OK;
        if (n < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            return RS_CLIENT_E_IO;
        }
    }
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

    rs_reader_init(&t->in, RS_MAX_FRAME_PREHELLO);
    rs_buf_init(&t->out, RS_FRAME_HEADER + RS_MAX_FRAME_PREHELLO);
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
    enum rs_client_status st = transport_wait(t->fd, POLLOUT, deadline, err, errlen);
    if (st != RS_CLIENT_OK)
        return st;
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

/* Write all queued bytes. */
enum rs_client_status transport_flush(struct transport *t, int64_t deadline, char *err,
                                      size_t errlen)
{
    while (t->out.len > 0) {
        ssize_t n = send(t->fd, t->out.data, t->out.len, MSG_NOSIGNAL);
        if (n >= 0) {
            rs_buf_consume(&t->out, (size_t)n);
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            snprintf(err, errlen, "cannot write to the daemon: %s", strerror(errno));
            return RS_CLIENT_E_IO;
        }
        enum rs_client_status st = transport_wait(t->fd, POLLOUT, deadline, err, errlen);
        if (st != RS_CLIENT_OK)
            return st;
    }
    return RS_CLIENT_OK;
}

/* Take a buffered frame, or read until one is complete. */
enum rs_client_status transport_next(struct transport *t, int64_t deadline, const uint8_t **body,
                                     uint32_t *len, char *err, size_t errlen)
{
    for (;;) {
        int r = rs_reader_next(&t->in, body, len);
        if (r > 0)
            return RS_CLIENT_OK;
        if (r < 0) {
            snprintf(err, errlen, "the daemon sent a bad frame (%s)",
                     rs_code_name(rs_reader_error(&t->in)));
            return RS_CLIENT_E_PROTOCOL;
        }
        size_t avail = 0;
        uint8_t *space = rs_reader_space(&t->in, &avail);
        if (space == NULL) {
            snprintf(err, errlen, "out of memory reading from the daemon");
            return RS_CLIENT_E_NOMEM;
        }
        ssize_t n = recv(t->fd, space, avail, 0);
        if (n > 0) {
            rs_reader_commit(&t->in, (size_t)n);
            continue;
        }
        if (n == 0) {
            snprintf(err, errlen, "the daemon closed the connection");
            return RS_CLIENT_E_IO;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            snprintf(err, errlen, "cannot read from the daemon: %s", strerror(errno));
            return RS_CLIENT_E_IO;
        }
        enum rs_client_status st = transport_wait(t->fd, POLLIN, deadline, err, errlen);
        if (st != RS_CLIENT_OK)
            return st;
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
