/*
 * Chaos test support (see chaos.h): reconnecting worker processes that record what they run,
 * a pipelined producer that retries with the same idempotency key, bounded waits on SQL.
 */
#include "chaos.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"

int64_t chaos_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait ms without being a synchronisation: only the pace of a retry loop. */
static void chaos_pause(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Connect and handshake, retrying every 20 ms for at most timeout_ms; fd or -1. */
static int chaos_connect(const char *socket, int timeout_ms)
{
    int64_t end = chaos_now_ms() + timeout_ms;
    for (;;) {
        int fd = wire_connect(socket);
        if (fd >= 0) {
            if (wire_handshake(fd) == 0)
                return fd;
            close(fd);
        }
        if (chaos_now_ms() >= end)
            return -1;
        chaos_pause(20);
    }
}

/* Append one line with a single write. */
static void chaos_record(int fd, char kind, uint64_t job, uint64_t attempt)
{
    char line[96];
    int n = snprintf(line, sizeof(line), "%c %llu %llu %d\n", kind, (unsigned long long)job,
                     (unsigned long long)attempt, (int)getpid());
    if (write(fd, line, (size_t)n) != n)
        _exit(3);
}

/* An ACK we sent and have no answer for, by request id. */
struct chaos_pending {
    uint32_t rid;
    uint64_t job, attempt;
};
#define CHAOS_ACKS 4096

/* Send the ACK of (job, attempt) with request id rid. */
static int chaos_send_ack(int fd, uint32_t rid, uint64_t job, uint64_t attempt)
{
    char result[32];
    int n = snprintf(result, sizeof(result), "r%llu", (unsigned long long)job);
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_ACK;
    m.request_id = rid;
    m.u.ack.job = job;
    m.u.ack.attempt = attempt;
    m.u.ack.ok = true;
    m.u.ack.result = (struct rs_bytes){(const uint8_t *)result, (uint32_t)n};
    return wire_send_msg(fd, &m);
}

/* One session of a worker: register, serve until the connection ends. */
static void chaos_worker_session(int fd, const char *name, int conc, enum chaos_mode mode, int log)
{
    static struct chaos_pending acks[CHAOS_ACKS];
    memset(acks, 0, sizeof(acks));
    uint32_t rid = 1;
    struct rs_str names[1] = {{name, (uint32_t)strlen(name)}};
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_REGISTER;
    m.request_id = rid++;
    m.u.reg.names = names;
    m.u.reg.nnames = 1;
    m.u.reg.concurrency = (uint64_t)conc;
    if (wire_send_msg(fd, &m) != 0)
        return;
    for (;;) {
        struct wire_reply r;
        int got = wire_recv(fd, 1000, &r);
        if (got == 0)
            return; /* the daemon closed: reconnect */
        if (got < 0)
            continue; /* quiet for a second, or an undecodable frame */
        if (r.msg.type == RS_MSG_DISPATCH) {
            uint64_t job = r.msg.u.dispatch.job, attempt = r.msg.u.dispatch.attempt;
            chaos_record(log, 'E', job, attempt);
            if (mode == CHAOS_STOP_THEN_ACK)
                raise(SIGSTOP);
            if (mode == CHAOS_WORK)
                chaos_pause(10); /* the job's own work, so that kills land mid-job */
            if (mode != CHAOS_HOLD) {
                uint32_t id = rid++;
                if (rid == 0)
                    rid = 1;
                acks[id % CHAOS_ACKS] = (struct chaos_pending){id, job, attempt};
                if (chaos_send_ack(fd, id, job, attempt) != 0) {
                    wire_reply_free(&r);
                    return;
                }
            }
        } else if (r.msg.type == RS_MSG_OK || r.msg.type == RS_MSG_ERROR) {
            struct chaos_pending *p = &acks[r.msg.request_id % CHAOS_ACKS];
            if (p->rid == r.msg.request_id && p->rid != 0) {
                if (r.msg.type == RS_MSG_OK) {
                    chaos_record(log, 'S', p->job, p->attempt);
                    p->rid = 0;
                } else if (wire_is_error(&r, "unavailable")) {
                    /* PostgreSQL is away: the same ACK again, as a real worker would. */
                    uint32_t id = rid++;
                    acks[id % CHAOS_ACKS] = (struct chaos_pending){id, p->job, p->attempt};
                    p->rid = 0;
                    if (chaos_send_ack(fd, id, acks[id % CHAOS_ACKS].job,
                                       acks[id % CHAOS_ACKS].attempt) != 0) {
                        wire_reply_free(&r);
                        return;
                    }
                } else {
                    chaos_record(log, 'X', p->job, p->attempt); /* stale_attempt and the like */
                    p->rid = 0;
                }
            }
        }
        wire_reply_free(&r);
    }
}

pid_t chaos_worker(const char *socket, const char *name, int conc, enum chaos_mode mode,
                   const char *log)
{
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    pid_t pid = fork();
    if (pid != 0) {
        close(fd);
        return pid;
    }
    /* The worker: for ever (until killed), a session, then reconnect. A daemon that stays away
     * for 10 minutes ends it. */
    for (;;) {
        int c = chaos_connect(socket, 600000);
        if (c < 0)
            _exit(2);
        chaos_worker_session(c, name, conc, mode, fd);
        close(c);
    }
}

void chaos_kill(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

long chaos_read_log(const char *path, struct chaos_exec **out)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return errno == ENOENT ? 0 : -1;
    size_t cap = 1024, n = 0;
    struct chaos_exec *v = malloc(cap * sizeof(*v));
    char kind;
    long long job, attempt;
    int pid;
    while (v != NULL && fscanf(f, " %c %lld %lld %d", &kind, &job, &attempt, &pid) == 4) {
        if (n == cap) {
            cap *= 2;
            struct chaos_exec *nv = realloc(v, cap * sizeof(*v));
            if (nv == NULL) {
                free(v);
                v = NULL;
                break;
            }
            v = nv;
        }
        v[n++] = (struct chaos_exec){job, attempt, pid, kind};
    }
    fclose(f);
    if (v == NULL)
        return -1;
    *out = v;
    return (long)n;
}

long chaos_count(const char *path, char kind)
{
    struct chaos_exec *v;
    long n = chaos_read_log(path, &v), k = 0;
    for (long i = 0; i < n; i++)
        k += v[i].kind == kind;
    free(v);
    return k;
}

long long chaos_sql_int(const char *db, const char *sql)
{
    PGconn *c = PQconnectdb(db);
    long long v = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) == 1 &&
            !PQgetisnull(r, 0, 0))
            v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    }
    PQfinish(c);
    return v;
}

bool chaos_wait_sql(const char *db, const char *sql, long long want, int timeout_ms)
{
    int64_t end = chaos_now_ms() + timeout_ms;
    for (;;) {
        if (chaos_sql_int(db, sql) == want)
            return true;
        if (chaos_now_ms() >= end)
            return false;
        chaos_pause(50);
    }
}

/* Requests in flight at once. */
#define CHAOS_WINDOW 64

/* max_attempts of chaos_produce's jobs; 0: not sent. */
static uint32_t chaos_max_attempts;

void chaos_set_max_attempts(uint32_t n)
{
    chaos_max_attempts = n;
}

/* Send ENQUEUE i. */
static int chaos_send_enqueue(int fd, uint32_t rid, const char *name, const char *prefix, long i,
                              uint64_t timeout_ms)
{
    char key[96];
    snprintf(key, sizeof(key), "%s%ld", prefix, i);
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_ENQUEUE;
    m.request_id = rid;
    m.u.enqueue.name = (struct rs_str){name, (uint32_t)strlen(name)};
    m.u.enqueue.key = (struct rs_str){key, (uint32_t)strlen(key)};
    m.u.enqueue.args = (struct rs_bytes){(const uint8_t *)key, (uint32_t)strlen(key)};
    if (timeout_ms > 0) {
        m.u.enqueue.has |= RS_HAS_TIMEOUT;
        m.u.enqueue.timeout_ms = timeout_ms;
    }
    if (chaos_max_attempts > 0) {
        m.u.enqueue.has |= RS_HAS_MAX_ATTEMPTS;
        m.u.enqueue.max_attempts = chaos_max_attempts;
    }
    return wire_send_msg(fd, &m);
}

long chaos_produce(const char *socket, const char *name, const char *prefix, long first, long n,
                   uint64_t timeout_ms, int64_t *ids, int deadline_ms)
{
    int64_t end = chaos_now_ms() + deadline_ms;
    char *done = calloc((size_t)n, 1);
    long *inflight = malloc(CHAOS_WINDOW * sizeof(long)); /* by rid % window: index or -1 */
    uint32_t *rids = malloc(CHAOS_WINDOW * sizeof(uint32_t));
    if (done == NULL || inflight == NULL || rids == NULL) {
        free(done);
        free(inflight);
        free(rids);
        return -1;
    }
    long ndone = 0, next = 0; /* next index to look at for sending */
    uint32_t rid = 1;
    int fd = -1;
    while (ndone < n && chaos_now_ms() < end) {
        if (fd < 0) {
            fd = chaos_connect(socket, (int)(end - chaos_now_ms()));
            if (fd < 0)
                break;
            for (int k = 0; k < CHAOS_WINDOW; k++)
                inflight[k] = -1;
            next = 0;
        }
        /* Fill the window with the first indexes not done and not in flight. */
        int busy = 0;
        for (int k = 0; k < CHAOS_WINDOW; k++)
            busy += inflight[k] >= 0;
        while (busy < CHAOS_WINDOW && next < n) {
            long i = next++;
            bool flying = false;
            for (int k = 0; k < CHAOS_WINDOW && !flying; k++)
                flying = inflight[k] == i;
            if (done[i] || flying)
                continue;
            int slot = -1;
            for (int k = 0; k < CHAOS_WINDOW && slot < 0; k++)
                if (inflight[(rid + (uint32_t)k) % CHAOS_WINDOW] < 0)
                    slot = (int)((rid + (uint32_t)k) % CHAOS_WINDOW);
            while ((rid % CHAOS_WINDOW) != (uint32_t)slot || rid == 0)
                rid++;
            if (chaos_send_enqueue(fd, rid, name, prefix, first + i, timeout_ms) != 0)
                goto lost;
            inflight[slot] = i;
            rids[slot] = rid++;
            busy++;
        }
        if (busy == 0) {
            next = 0; /* some were retried: look again from the start */
            continue;
        }
        struct wire_reply r;
        int got = wire_recv(fd, 2000, &r);
        if (got == 0)
            goto lost;
        if (got < 0)
            continue;
        int slot = (int)(r.msg.request_id % CHAOS_WINDOW);
        if (inflight[slot] >= 0 && rids[slot] == r.msg.request_id) {
            long i = inflight[slot];
            inflight[slot] = -1;
            if (r.msg.type == RS_MSG_ENQUEUED) {
                if (!done[i]) {
                    done[i] = 1;
                    ndone++;
                }
                if (ids != NULL)
                    ids[i] = (int64_t)r.msg.u.enqueued.job;
            } else {
                next = i < next ? i : next; /* retry it: same key, so never twice */
            }
        }
        wire_reply_free(&r);
        continue;
    lost:
        close(fd);
        fd = -1;
    }
    if (fd >= 0)
        close(fd);
    free(done);
    free(inflight);
    free(rids);
    return ndone;
}
