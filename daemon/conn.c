/*
 * One client connection: its state machine, the frame reader fed straight from the socket,
 * a bounded output queue, and the single exit point conn_close.
 */
#include "conn.h"

#include <errno.h>
#include <event2/event.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "server.h"
#include "session.h"

/* Frames handled per wake-up, so that one busy client cannot starve the others. */
#define CONN_FRAMES_PER_WAKE 64
/* How long a CLOSING connection may take to drain its output. */
#define CONN_LINGER_SEC 5
/* How long a new connection may take to send HELLO, so idle sockets cannot hold slots. */
#define CONN_HANDSHAKE_SEC 10
/* How often a half-closed peer we still owe replies is checked for having closed entirely:
 * nothing else tells (its socket stays readable at end of input, so it is not watched). */
#define CONN_HALF_CLOSED_CHECK_SEC 1

static const char *const conn_state_names[] = {"handshake", "ready", "closing"};

static void conn_on_read(evutil_socket_t fd, short what, void *arg);
static void conn_on_write(evutil_socket_t fd, short what, void *arg);
static void conn_on_more(evutil_socket_t fd, short what, void *arg);
static void conn_on_timer(evutil_socket_t fd, short what, void *arg);

/* The output cap: room for a few maximal replies plus slack for many small ones. */
static size_t conn_out_cap(const struct server *s)
{
    return 4 * (size_t)s->cfg->max_frame + 64 * 1024;
}

/* Start serving an accepted socket. */
struct conn *conn_new(struct server *s, int fd, const struct ucred *peer)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        log_error("out of memory accepting a connection; closing it");
        close(fd);
        return NULL;
    }
    c->server = s;
    c->id = ++s->next_conn_id;
    c->fd = fd;
    c->peer = *peer;
    c->state = CONN_HANDSHAKE;
    TAILQ_INIT(&c->requests);
    TAILQ_INIT(&c->waiters);
    rs_reader_init(&c->in, RS_MAX_FRAME_PREHELLO);
    rs_buf_init(&c->out, conn_out_cap(s));
    c->ev_read = event_new(s->base, fd, EV_READ | EV_PERSIST, conn_on_read, c);
    c->ev_write = event_new(s->base, fd, EV_WRITE | EV_PERSIST, conn_on_write, c);
    c->ev_more = event_new(s->base, -1, 0, conn_on_more, c);
    c->ev_timer = evtimer_new(s->base, conn_on_timer, c);
    TAILQ_INSERT_TAIL(&s->conns, c, link);
    s->nconns++;
    struct timeval hs = {CONN_HANDSHAKE_SEC, 0};
    if (c->ev_read == NULL || c->ev_write == NULL || c->ev_more == NULL || c->ev_timer == NULL ||
        event_add(c->ev_read, NULL) != 0 || evtimer_add(c->ev_timer, &hs) != 0) {
        conn_close(c, "cannot set up its events (out of memory)");
        return NULL;
    }
    log_info("conn %llu: accepted (pid %ld, uid %lu, gid %lu)", (unsigned long long)c->id,
             (long)peer->pid, (unsigned long)peer->uid, (unsigned long)peer->gid);
    return c;
}

/* The one place where a connection's state changes. */
void conn_set_state(struct conn *c, enum conn_state state)
{
    if (state <= c->state)
        return;
    log_debug("conn %llu: %s -> %s", (unsigned long long)c->id, conn_state_names[c->state],
              conn_state_names[state]);
    if (c->state == CONN_HANDSHAKE)
        event_del(c->ev_timer); /* the handshake deadline no longer applies */
    c->state = state;
}

/* Write as much queued output as the socket takes now; arm the write event for the rest. */
static void conn_flush(struct conn *c)
{
    while (c->out.len > 0) {
        ssize_t n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!event_pending(c->ev_write, EV_WRITE, NULL) &&
                    event_add(c->ev_write, NULL) != 0)
                    conn_close(c, "cannot watch the socket for writing");
                return;
            }
            conn_close(c, "write failed: %s", strerror(errno));
            return;
        }
        rs_buf_consume(&c->out, (size_t)n);
    }
    if (event_pending(c->ev_write, EV_WRITE, NULL))
        event_del(c->ev_write);
    if (c->state == CONN_CLOSING)
        conn_close(c, "%s", c->close_reason);
}

/* Queue one encoded message; a full queue drops the client. */
int conn_send(struct conn *c, const struct rs_msg *msg)
{
    if (c->closed)
        return -1;
    size_t queued = c->out.len;
    enum rs_code rc = rs_msg_encode(&c->out, msg);
    if (rc != RS_OK) {
        if (rc == RS_E_BAD_VALUE) {
            /* A bug of ours: the message breaks a protocol rule. */
            log_error("conn %llu: cannot encode %s: invalid message", (unsigned long long)c->id,
                      rs_msg_type_name(msg->type));
            return 0;
        }
        if (rc == RS_E_LIMIT)
            conn_close(c, "output queue full (%zu bytes queued, cap %zu): the client does not read",
                       queued, conn_out_cap(c->server));
        else
            conn_close(c, "out of memory queueing %s", rs_msg_type_name(msg->type));
        return -1;
    }
    metrics_frame_out();
    if (queued == 0 && !event_pending(c->ev_write, EV_WRITE, NULL) &&
        event_add(c->ev_write, NULL) != 0) {
        conn_close(c, "cannot watch the socket for writing");
        return -1;
    }
    /* A half-closed peer may have been owed only this: look again once the caller is done
     * (its request or waiter is unlinked by then). */
    if (c->peer_eof)
        event_active(c->ev_more, 0, 0);
    return 0;
}

/* True while a half-closed peer still waits for replies to what it sent. */
static bool conn_owes_replies(const struct conn *c)
{
    return !c->peer_gone && c->worker == NULL && c->state == CONN_READY &&
           (c->nrequests > 0 || c->nwaiters > 0);
}

/* Queue an ERROR reply. */
int conn_send_error(struct conn *c, uint32_t request_id, enum rs_code code, bool retryable,
                    const char *fmt, ...)
{
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (n < 0)
        text[0] = '\0';

    const char *name = rs_code_name(code);
    struct rs_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.type = RS_MSG_ERROR;
    msg.request_id = request_id;
    msg.u.error.code = (struct rs_str){name, (uint32_t)strlen(name)};
    msg.u.error.message = (struct rs_str){text, (uint32_t)strlen(text)};
    if (retryable) {
        msg.u.error.has |= RS_HAS_RETRYABLE;
        msg.u.error.retryable = true;
    }
    metrics_error_sent(code);
    log_debug("conn %llu: ERROR %s to request %lu: %s", (unsigned long long)c->id, name,
              (unsigned long)request_id, text);
    return conn_send(c, &msg);
}

/* Hand incoming frames to the session, at most CONN_FRAMES_PER_WAKE of them. */
static void conn_process(struct conn *c)
{
    for (int i = 0; i < CONN_FRAMES_PER_WAKE; i++) {
        if (c->closed || c->state == CONN_CLOSING)
            return;
        if (c->held != NULL)
            return; /* a job request waits for the storage; the rest stays in the socket */
        if (c->nrequests >= REQUEST_MAX_PER_CONN) {
            /* Backpressure: leave the rest in the socket until replies go out. */
            if (!c->input_paused)
                log_debug("conn %llu: %u requests outstanding; pausing its input",
                          (unsigned long long)c->id, c->nrequests);
            c->input_paused = true;
            event_del(c->ev_read);
            return;
        }
        const uint8_t *body = NULL;
        uint32_t len = 0;
        int r = rs_reader_next(&c->in, &body, &len);
        if (r == 0) {
            if (c->peer_eof && conn_owes_replies(c)) {
                if (!c->half_closed)
                    log_info("conn %llu: the peer shut its sending side with %u request(s) and "
                             "%u AWAIT(s) unanswered; answering them before closing",
                             (unsigned long long)c->id, c->nrequests, c->nwaiters);
                c->half_closed = true;
                struct timeval tv = {CONN_HALF_CLOSED_CHECK_SEC, 0};
                if (evtimer_add(c->ev_timer, &tv) != 0)
                    conn_close(c, "cannot watch a half-closed connection");
                return; /* conn_send looks again after each reply */
            }
            if (c->peer_eof) {
                if (c->out.len == 0)
                    conn_close(c, "peer closed the connection");
                else
                    conn_close_after_flush(c, "peer closed the connection");
            }
            return;
        }
        if (r < 0) {
            enum rs_code code = rs_reader_error(&c->in);
            if (code == RS_E_INTERNAL) {
                conn_close(c, "out of memory reading a frame");
                return;
            }
            if (conn_send_error(c, 0, code, false, "%s: the frame limit is %u bytes",
                                code == RS_E_EMPTY_FRAME ? "frame of length 0"
                                                         : "frame length above the limit",
                                c->in.max_frame) == 0)
                conn_close_after_flush(c, "framing error: %s", rs_code_name(code));
            return;
        }
        metrics_frame_in();
        if (session_handle_frame(c, body, len) != 0)
            return;
    }
    /* More may be buffered: go on in the next loop iteration, after the others. */
    if (!c->closed)
        event_active(c->ev_more, 0, 0);
}

/* Read once into the frame reader, handle what arrived, write the replies. */
static void conn_on_read(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    size_t avail = 0;
    uint8_t *space = rs_reader_space(&c->in, &avail);
    if (space != NULL) {
        ssize_t n = recv(fd, space, avail, 0);
        if (n > 0) {
            rs_reader_commit(&c->in, (size_t)n);
        } else if (n == 0) {
            c->peer_eof = true;
            event_del(c->ev_read);
            /* A Unix socket whose peer closed both sides polls HUP; one that only shut its
             * sending side does not, and still reads what we send. */
            struct pollfd p = {.fd = fd, .events = POLLIN};
            c->peer_gone = poll(&p, 1, 0) == 1 && (p.revents & POLLHUP) != 0;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            conn_close(c, "read failed: %s", strerror(errno));
            return;
        }
    } else if (rs_reader_error(&c->in) == RS_E_INTERNAL) {
        conn_close(c, "out of memory for its input");
        return;
    }
    conn_process(c);
    if (!c->closed)
        conn_flush(c);
}

/* Replies went out: read again, starting with what is buffered already. */
void conn_resume_input(struct conn *c)
{
    if (!c->input_paused || c->held != NULL || c->closed || c->state == CONN_CLOSING)
        return;
    c->input_paused = false;
    if (!c->peer_eof && event_add(c->ev_read, NULL) != 0) {
        conn_close(c, "cannot watch the socket for reading");
        return;
    }
    event_active(c->ev_more, 0, 0);
}

/* The socket can take more output. */
static void conn_on_write(evutil_socket_t fd, short what, void *arg)
{
    conn_flush(arg);
}

/* Continue with frames left over from an earlier wake-up. */
static void conn_on_more(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    conn_process(c);
    if (!c->closed)
        conn_flush(c);
}

/* A deadline passed: no HELLO in time, or a CLOSING connection did not drain. */
static void conn_on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    if (c->state == CONN_HANDSHAKE) {
        if (conn_send_error(c, 0, RS_E_HANDSHAKE, false, "no HELLO within %d s",
                            CONN_HANDSHAKE_SEC) == 0)
            conn_close_after_flush(c, "no HELLO within %d s", CONN_HANDSHAKE_SEC);
        return;
    }
    if (c->state == CONN_READY && c->half_closed) {
        /* Replies are still owed: useless if the peer has closed its receiving side too. */
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, 0) == 1 && (p.revents & POLLHUP) != 0) {
            conn_close(c, "peer closed the connection (%u request(s) and %u AWAIT(s) unanswered)",
                       c->nrequests, c->nwaiters);
            return;
        }
        struct timeval tv = {CONN_HALF_CLOSED_CHECK_SEC, 0};
        if (evtimer_add(c->ev_timer, &tv) != 0)
            conn_close(c, "cannot watch a half-closed connection");
        return;
    }
    conn_close(c, "%s (output not drained within %d s)", c->close_reason, CONN_LINGER_SEC);
}

/* Begin CLOSING: no more input, flush, then close. */
void conn_close_after_flush(struct conn *c, const char *fmt, ...)
{
    if (c->closed || c->state == CONN_CLOSING)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->close_reason, sizeof(c->close_reason), fmt, ap);
    va_end(ap);
    conn_set_state(c, CONN_CLOSING);
    event_del(c->ev_read);
    event_del(c->ev_more);
    struct timeval tv = {CONN_LINGER_SEC, 0};
    if (evtimer_add(c->ev_timer, &tv) != 0) {
        conn_close(c, "%s", c->close_reason);
        return;
    }
    conn_flush(c);
}

/* Log why, release the socket and events, and leave the freeing to the reaper. */
void conn_close(struct conn *c, const char *fmt, ...)
{
    if (c->closed)
        return;
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    c->closed = true;
    log_info("conn %llu closed: %s%s%s%s", (unsigned long long)c->id, reason,
             c->client[0] ? " (client " : "", c->client, c->client[0] ? ")" : "");
    if (c->ev_read != NULL)
        event_del(c->ev_read);
    if (c->ev_write != NULL)
        event_del(c->ev_write);
    if (c->ev_more != NULL)
        event_del(c->ev_more);
    if (c->ev_timer != NULL)
        event_del(c->ev_timer);
    close(c->fd);
    c->fd = -1;
    server_conn_closed(c->server, c);
}

/* Release the events and buffers of a closed connection. */
void conn_free(struct conn *c)
{
    if (c->ev_read != NULL)
        event_free(c->ev_read);
    if (c->ev_write != NULL)
        event_free(c->ev_write);
    if (c->ev_more != NULL)
        event_free(c->ev_more);
    if (c->ev_timer != NULL)
        event_free(c->ev_timer);
    rs_reader_free(&c->in);
    rs_buf_free(&c->out);
    free(c->held);
    free(c);
}
