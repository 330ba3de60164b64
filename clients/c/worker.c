/*
 * The worker side of libreseolio: handlers registered per function name, DISPATCHed jobs
 * queued until rs_worker_run hands them to its pool threads, outcomes sent back as ACKs from
 * the thread that owns the connection, ABANDON turned into a flag a handler can poll. An
 * attempt can also be handed back unfinished (ACK release, not counted): by its handler
 * (rs_job_release), or by a stop whose timeout passed while the handler still ran. A stop
 * first sends REGISTER with concurrency 0, so that the daemon dispatches nothing more, and hands
 * back at once every dispatched job no handler has started; the next rs_worker_run registers
 * the real concurrency again.
 *
 * Threads: rs_worker_run's thread does all I/O and owns the live list; pool threads only take
 * tasks from `ready` and give them back through `done`, both under mu, then wake the I/O
 * thread through a pipe. rs_worker_stop only sets an atomic flag and writes to that pipe,
 * which is why it is safe in a signal handler.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include "client_internal.h"
#include "reseolio/proto.h"

/* Pool threads, at most: the concurrency of one connection in this client. */
#define WORKER_MAX_CONCURRENCY 256u

enum task_state {
    TASK_QUEUED,  /* in ready: no thread has it */
    TASK_RUNNING, /* a pool thread runs its handler */
    TASK_DONE,    /* in done: the outcome waits for its ACK */
};

/* One dispatched attempt. Owner: the worker, from DISPATCH until its ACK is queued. */
struct rs_job_ctx {
    TAILQ_ENTRY(rs_job_ctx) q;            /* ready or done (under mu) */
    TAILQ_ENTRY(rs_job_ctx) live;         /* the live list (I/O thread only) */
    enum task_state state;                /* under mu */
    atomic_bool cancelled;                /* ABANDON arrived, or the session ended */
    const struct worker_handler *handler; /* NULL: no handler for name */
    uint64_t job;
    uint64_t attempt;
    uint64_t max_attempts;
    int64_t deadline;
    char *name;
    uint8_t *args;
    size_t args_len;
    /* The outcome: written by the handler's thread, read after TASK_DONE (mu orders them). */
    int rc;
    uint8_t *result; /* NULL: none */
    size_t result_len;
    char *error; /* NULL: none stored */
    bool retryable;
    bool release;          /* rs_job_release: the ACK hands the attempt back, no outcome */
    int handback;          /* stop timeout (I/O thread only): 1 release wanted, 2 release sent */
    uint64_t next_step;    /* rs_job_step: the position of this attempt's next step */
    struct worker *worker; /* the worker that holds it */
};
TAILQ_HEAD(task_list, rs_job_ctx);

struct worker_handler {
    char *name;
    rs_handler_fn fn;
    void *user;
};

/* Owner: the client (c->worker), freed by worker_free when the client is. */
struct worker {
    struct worker_handler handlers[RS_MAX_REGISTER];
    unsigned nhandlers;
    unsigned concurrency;
    bool dirty;               /* names or concurrency changed since the last REGISTER */
    bool announced;           /* a REGISTER was sent: DISPATCH may come */
    unsigned max_live;        /* bound on tasks held, from the concurrency the daemon knows */
    bool running;             /* inside rs_worker_run */
    atomic_bool stop;         /* rs_worker_stop was called */
    unsigned stop_timeout_ms; /* 0: a stop waits for running handlers without limit */
    int64_t stop_deadline;    /* monotonic ms when running attempts are handed back; 0: unset */
    int wake[2];              /* pipe: pool threads and rs_worker_stop write, the run loop reads */
    unsigned acks_inflight;
    bool drain_sent;       /* this stop's REGISTER concurrency 0 went out */
    bool drain_pending;    /* ... and its reply has not come yet */
    struct task_list live; /* every task held (I/O thread only) */
    unsigned nlive;

    pthread_mutex_t mu; /* guards what follows */
    pthread_cond_t cv;
    struct task_list ready;
    struct task_list done;
    unsigned nrunning;
    bool paused; /* stopping: threads take no new task */
    bool quit;   /* threads exit */
    pthread_t threads[WORKER_MAX_CONCURRENCY];
    unsigned nthreads;
    atomic_uint nwaiting; /* handlers inside rs_job_await: their slots are lent to steps */
};

/* Wake the run loop; a full pipe already means "wake up". */
static void worker_wake(struct worker *w)
{
    int saved = errno;
    ssize_t n = write(w->wake[1], "w", 1);
    (void)n;
    errno = saved;
}

/* Free one task. */
static void worker_task_free(struct rs_job_ctx *t)
{
    free(t->name);
    free(t->args);
    free(t->result);
    free(t->error);
    free(t);
}

/* The worker of c, made on first use. */
static struct worker *worker_get(struct rs_client *c)
{
    if (c->worker != NULL)
        return c->worker;
    struct worker *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    if (pipe2(w->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    TAILQ_INIT(&w->live);
    TAILQ_INIT(&w->ready);
    TAILQ_INIT(&w->done);
    atomic_init(&w->stop, false);
    w->concurrency = 1;
    c->worker = w;
    return w;
}

void worker_free(struct worker *w)
{
    if (w == NULL)
        return;
    struct rs_job_ctx *t;
    while ((t = TAILQ_FIRST(&w->live)) != NULL) {
        TAILQ_REMOVE(&w->live, t, live);
        worker_task_free(t);
    }
    for (unsigned i = 0; i < w->nhandlers; i++)
        free(w->handlers[i].name);
    close(w->wake[0]);
    close(w->wake[1]);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

/* The handler of a function name, or NULL. */
static const struct worker_handler *worker_handler(const struct worker *w, const char *name)
{
    for (unsigned i = 0; i < w->nhandlers; i++)
        if (strcmp(w->handlers[i].name, name) == 0)
            return &w->handlers[i];
    return NULL;
}

/* Keep a DISPATCHed job until a pool thread takes it. */
enum rs_client_status worker_on_dispatch(struct rs_client *c, const struct rs_dispatch *d)
{
    struct worker *w = c->worker;
    if (w == NULL || !w->announced) {
        client_break(c, RS_CLIENT_E_PROTOCOL, NULL,
                     "the daemon dispatched job %llu to a connection that sent no REGISTER",
                     (unsigned long long)d->job);
        return RS_CLIENT_E_PROTOCOL;
    }
    if (w->nlive >= w->max_live + atomic_load(&w->nwaiting)) {
        client_break(c, RS_CLIENT_E_PROTOCOL, NULL,
                     "the daemon dispatched job %llu beyond this worker's concurrency (%u jobs "
                     "held)",
                     (unsigned long long)d->job, w->nlive);
        return RS_CLIENT_E_PROTOCOL;
    }
    struct rs_job_ctx *t = calloc(1, sizeof(*t));
    if (t != NULL) {
        t->name = malloc((size_t)d->name.len + 1);
        t->args = malloc(d->args.len > 0 ? d->args.len : 1);
    }
    if (t == NULL || t->name == NULL || t->args == NULL) {
        if (t != NULL)
            worker_task_free(t);
        /* Dropping it would hold the job until its timeout; failing the session frees it now. */
        client_break(c, RS_CLIENT_E_NOMEM, NULL, "out of memory holding job %llu",
                     (unsigned long long)d->job);
        return RS_CLIENT_E_NOMEM;
    }
    memcpy(t->name, d->name.ptr, d->name.len);
    t->name[d->name.len] = '\0';
    if (d->args.len > 0)
        memcpy(t->args, d->args.ptr, d->args.len);
    t->args_len = d->args.len;
    t->job = d->job;
    t->attempt = d->attempt;
    t->max_attempts = d->max_attempts;
    t->deadline = d->deadline;
    t->handler = worker_handler(w, t->name);
    t->worker = w;
    t->retryable = true;
    atomic_init(&t->cancelled, false);
    t->state = TASK_QUEUED;
    TAILQ_INSERT_TAIL(&w->live, t, live);
    w->nlive++;
    pthread_mutex_lock(&w->mu);
    TAILQ_INSERT_TAIL(&w->ready, t, q);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return RS_CLIENT_OK;
}

/* The daemon gave up on an attempt: drop it if it has not started, else flag it. */
void worker_on_abandon(struct rs_client *c, const struct rs_abandon *a)
{
    struct worker *w = c->worker;
    if (w == NULL)
        return;
    struct rs_job_ctx *t;
    TAILQ_FOREACH(t, &w->live, live)
    {
        if (t->job != a->job || t->attempt != a->attempt)
            continue;
        atomic_store(&t->cancelled, true);
        pthread_mutex_lock(&w->mu);
        bool queued = t->state == TASK_QUEUED;
        if (queued)
            TAILQ_REMOVE(&w->ready, t, q);
        pthread_mutex_unlock(&w->mu);
        if (queued) {
            TAILQ_REMOVE(&w->live, t, live);
            w->nlive--;
            worker_task_free(t);
        }
        return;
    }
}

/* A pool thread: take a ready task, run its handler, give it back, until told to quit. */
static void *worker_thread(void *arg)
{
    struct worker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->quit && (w->paused || TAILQ_EMPTY(&w->ready)))
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->quit)
            break;
        struct rs_job_ctx *t = TAILQ_FIRST(&w->ready);
        TAILQ_REMOVE(&w->ready, t, q);
        t->state = TASK_RUNNING;
        w->nrunning++;
        pthread_mutex_unlock(&w->mu);

        if (t->handler != NULL)
            t->rc = t->handler->fn(t, t->handler->user);
        else
            t->rc = rs_job_set_error(t, true, "this worker has no handler for %s", t->name);

        pthread_mutex_lock(&w->mu);
        t->state = TASK_DONE;
        w->nrunning--;
        TAILQ_INSERT_TAIL(&w->done, t, q);
        worker_wake(w);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* The reply to an ACK: the daemon committed it, or says it was stale; either way it is over. */
static void worker_ack_cb(struct rs_client *c, const struct rs_reply *reply, void *arg)
{
    (void)reply;
    struct worker *w = arg;
    (void)c;
    w->acks_inflight--;
}

/* Queue the ACK of a finished task. Returns RS_CLIENT_OK, or E_LIMIT to try again later. */
static enum rs_client_status worker_ack(struct rs_client *c, struct rs_job_ctx *t)
{
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_ACK;
    struct rs_ack *a = &m.u.ack;
    a->job = t->job;
    a->attempt = t->attempt;
    char fallback[64];
    if (t->release) {
        a->has = RS_HAS_RELEASE;
        a->release = true;
    } else if (t->rc == 0) {
        a->ok = true;
        if (t->result != NULL)
            a->result = (struct rs_bytes){t->result, (uint32_t)t->result_len};
    } else {
        a->ok = false;
        if (t->error == NULL)
            snprintf(fallback, sizeof(fallback), "handler failed (returned %d)", t->rc);
        const char *e = t->error != NULL ? t->error : fallback;
        a->error = (struct rs_str){e, (uint32_t)strlen(e)};
        a->has = RS_HAS_RETRYABLE;
        a->retryable = t->retryable;
    }
    uint32_t id;
    enum rs_client_status st = client_submit(c, &m, CALL_ACK, worker_ack_cb, c->worker, &id);
    if (st == RS_CLIENT_E_ARG && a->ok && !t->release) {
        /* The result does not fit in a frame: the attempt failed, and would fail again. */
        char msg[160];
        snprintf(msg, sizeof(msg), "the result (%zu bytes) is larger than the daemon's frame limit",
                 t->result_len);
        memset(a, 0, sizeof(*a));
        a->job = t->job;
        a->attempt = t->attempt;
        a->error = (struct rs_str){msg, (uint32_t)strlen(msg)};
        a->has = RS_HAS_RETRYABLE;
        st = client_submit(c, &m, CALL_ACK, worker_ack_cb, c->worker, &id);
    }
    if (st == RS_CLIENT_OK)
        c->worker->acks_inflight++;
    return st;
}

/* Hand back one running attempt (ACK release). Returns RS_CLIENT_OK, or E_LIMIT to try again. */
static enum rs_client_status worker_hand_back(struct rs_client *c, struct rs_job_ctx *t)
{
    struct rs_msg m;
    memset(&m, 0, sizeof(m));
    m.type = RS_MSG_ACK;
    m.u.ack.job = t->job;
    m.u.ack.attempt = t->attempt;
    m.u.ack.has = RS_HAS_RELEASE;
    m.u.ack.release = true;
    uint32_t id;
    enum rs_client_status st = client_submit(c, &m, CALL_ACK, worker_ack_cb, c->worker, &id);
    if (st == RS_CLIENT_OK)
        c->worker->acks_inflight++;
    return st;
}

/* ACK what the pool finished (no ACK for abandoned attempts: the daemon expects none). */
static void worker_collect(struct rs_client *c)
{
    struct worker *w = c->worker;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        struct rs_job_ctx *t = TAILQ_FIRST(&w->done);
        if (t != NULL)
            TAILQ_REMOVE(&w->done, t, q);
        pthread_mutex_unlock(&w->mu);
        if (t == NULL)
            return;
        enum rs_client_status st = RS_CLIENT_OK;
        if (t->handback == 1 && !c->broken)
            st = worker_hand_back(c, t); /* the stop's release of it did not go out yet */
        else if (!atomic_load(&t->cancelled) && !c->broken)
            st = worker_ack(c, t);
        if (st == RS_CLIENT_E_LIMIT) {
            /* The output or the request table is full: put it back, ACK after some I/O. */
            pthread_mutex_lock(&w->mu);
            TAILQ_INSERT_HEAD(&w->done, t, q);
            pthread_mutex_unlock(&w->mu);
            return;
        }
        TAILQ_REMOVE(&w->live, t, live);
        w->nlive--;
        worker_task_free(t);
    }
}

/* Monotonic ms. */
static int64_t worker_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The stop's timeout passed: every attempt whose handler still runs is told to stop
 * (rs_job_cancelled; its outcome will be dropped) and handed back to the daemon unfinished,
 * so that another worker runs it without spending an attempt.
 */
static void worker_hand_back_running(struct rs_client *c)
{
    struct worker *w = c->worker;
    struct rs_job_ctx *t;
    pthread_mutex_lock(&w->mu);
    TAILQ_FOREACH(t, &w->live, live)
    {
        /* Under mu: a handler that returns now finds its task cancelled and its outcome unsent. */
        if (t->state == TASK_RUNNING && t->handback == 0) {
            atomic_store(&t->cancelled, true);
            t->handback = 1;
        }
    }
    pthread_mutex_unlock(&w->mu);
    TAILQ_FOREACH(t, &w->live, live)
    {
        if (t->handback != 1)
            continue;
        if (c->broken || worker_hand_back(c, t) == RS_CLIENT_E_LIMIT)
            return; /* output full: the next turn tries again; broken: the daemon releases */
        t->handback = 2;
    }
}

/* REGISTER of every handler's name with concurrency, into m (names: RS_MAX_REGISTER entries,
 * which m then points into). */
static void worker_register_msg(const struct worker *w, struct rs_msg *m, struct rs_str *names,
                                unsigned concurrency)
{
    for (unsigned i = 0; i < w->nhandlers; i++)
        names[i] = (struct rs_str){w->handlers[i].name, (uint32_t)strlen(w->handlers[i].name)};
    memset(m, 0, sizeof(*m));
    m->type = RS_MSG_REGISTER;
    m->u.reg.names = names;
    m->u.reg.nnames = w->nhandlers;
    m->u.reg.concurrency = concurrency;
}

/* Tell the daemon our names and concurrency. */
static enum rs_client_status worker_register_names(struct rs_client *c)
{
    struct worker *w = c->worker;
    struct rs_str names[RS_MAX_REGISTER];
    struct rs_msg m;
    worker_register_msg(w, &m, names, w->concurrency);
    /* The daemon may dispatch as soon as it read REGISTER, before we see its OK. */
    w->announced = true;
    unsigned bound = 2 * w->concurrency + 16;
    if (bound > w->max_live)
        w->max_live = bound;
    struct client_reply r;
    enum rs_client_status st = client_call(c, &m, CALL_REGISTER, client_deadline(c), &r);
    reply_clear(&r);
    if (st == RS_CLIENT_OK)
        w->dirty = false;
    return st;
}

/* The reply to a stop's REGISTER 0: from here on the daemon dispatches nothing more. */
static void worker_drain_cb(struct rs_client *c, const struct rs_reply *reply, void *arg)
{
    (void)c;
    (void)reply;
    struct worker *w = arg;
    w->drain_pending = false;
}

/*
 * A stop began: REGISTER concurrency 0, so that no DISPATCH follows its reply, and the next
 * rs_worker_run registers the real concurrency again. Returns RS_CLIENT_E_LIMIT to try again
 * after some I/O.
 */
static enum rs_client_status worker_send_drain(struct rs_client *c)
{
    struct worker *w = c->worker;
    struct rs_str names[RS_MAX_REGISTER];
    struct rs_msg m;
    worker_register_msg(w, &m, names, 0);
    uint32_t id;
    enum rs_client_status st = client_submit(c, &m, CALL_REGISTER, worker_drain_cb, w, &id);
    if (st == RS_CLIENT_OK) {
        w->drain_sent = true;
        w->drain_pending = true;
        w->dirty = true;
    }
    return st;
}

/* Stopping: hand back (ACK release, not counted) every dispatched job no handler has started,
 * so that another worker runs it now rather than after this client closes. */
static void worker_hand_back_queued(struct rs_client *c)
{
    struct worker *w = c->worker;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        struct rs_job_ctx *t = TAILQ_FIRST(&w->ready);
        if (t != NULL)
            TAILQ_REMOVE(&w->ready, t, q);
        pthread_mutex_unlock(&w->mu);
        if (t == NULL)
            return;
        /* An abandoned one is owed nothing; a broken session's are released by the daemon. */
        if (!atomic_load(&t->cancelled) && !c->broken &&
            worker_hand_back(c, t) == RS_CLIENT_E_LIMIT) {
            pthread_mutex_lock(&w->mu);
            TAILQ_INSERT_HEAD(&w->ready, t, q);
            pthread_mutex_unlock(&w->mu);
            return;
        }
        TAILQ_REMOVE(&w->live, t, live);
        w->nlive--;
        worker_task_free(t);
    }
}

/* Start the pool with every signal blocked in it: signals stay with the application's threads. */
static enum rs_client_status worker_start_threads(struct rs_client *c)
{
    struct worker *w = c->worker;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = 0;
    for (w->nthreads = 0; w->nthreads < w->concurrency; w->nthreads++) {
        err = pthread_create(&w->threads[w->nthreads], NULL, worker_thread, w);
        if (err != 0)
            break;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0)
        return client_fail(c, RS_CLIENT_E_NOMEM, "cannot start worker thread %u of %u: %s",
                           w->nthreads + 1, w->concurrency, strerror(err));
    return RS_CLIENT_OK;
}

/* Stop and join the pool; if the session is over, handlers still running are told to stop. */
static void worker_stop_threads(struct rs_client *c)
{
    struct worker *w = c->worker;
    if (c->broken || c->closing) {
        struct rs_job_ctx *t;
        TAILQ_FOREACH(t, &w->live, live)
        atomic_store(&t->cancelled, true);
    }
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    pthread_cond_broadcast(&w->cv);
    unsigned n = w->nthreads; /* no thread is added once quit is set */
    pthread_mutex_unlock(&w->mu);
    for (unsigned i = 0; i < n; i++)
        pthread_join(w->threads[i], NULL);
    w->nthreads = 0;
    w->quit = false;
    w->paused = false;
}

/* Whether a stopping worker is finished: nothing runs, nothing waits for its ACK. */
static bool worker_drained(struct worker *w)
{
    pthread_mutex_lock(&w->mu);
    bool idle = w->nrunning == 0 && TAILQ_EMPTY(&w->done);
    pthread_mutex_unlock(&w->mu);
    return idle && w->acks_inflight == 0;
}

/* The run loop: I/O and ACKs on this thread until stopped or the session ends. */
static enum rs_client_status worker_loop(struct rs_client *c)
{
    struct worker *w = c->worker;
    for (;;) {
        worker_collect(c);
        if (c->closing)
            return RS_CLIENT_E_CLOSED;
        if (c->broken)
            return client_broken_status(c);
        int wait_ms = -1;
        if (atomic_load(&w->stop)) {
            pthread_mutex_lock(&w->mu);
            w->paused = true;
            pthread_mutex_unlock(&w->mu);
            if (!w->drain_sent) {
                enum rs_client_status ds = worker_send_drain(c);
                /* Not sendable at all (not for a full output): stop without it; jobs still
                 * dispatched here are then released when the client closes. */
                if (ds != RS_CLIENT_OK && ds != RS_CLIENT_E_LIMIT)
                    w->drain_sent = true;
            }
            worker_hand_back_queued(c);
            if (worker_drained(w) && w->drain_sent && !w->drain_pending)
                return RS_CLIENT_OK;
            if (w->stop_timeout_ms > 0) {
                int64_t now = worker_now_ms();
                if (w->stop_deadline == 0)
                    w->stop_deadline = now + w->stop_timeout_ms;
                if (now >= w->stop_deadline)
                    worker_hand_back_running(c);
                else
                    wait_ms = (int)(w->stop_deadline - now);
            }
        }
        struct pollfd p[2] = {
            {.fd = c->t.fd, .events = client_poll_events(c)},
            {.fd = w->wake[0], .events = POLLIN},
        };
        int n = poll(p, 2, wait_ms);
        if (n < 0) {
            if (errno != EINTR)
                client_break(c, RS_CLIENT_E_IO, NULL, "poll: %s", strerror(errno));
            continue;
        }
        if (p[1].revents != 0) {
            char buf[64];
            while (read(w->wake[0], buf, sizeof(buf)) > 0) {
            }
        }
        if (p[0].revents != 0)
            client_io(c, p[0].revents);
    }
}

enum rs_client_status rs_worker_run(struct rs_client *c)
{
    if (c == NULL)
        return RS_CLIENT_E_ARG;
    enum rs_client_status st = client_begin(c);
    if (st != RS_CLIENT_OK)
        return st;
    struct worker *w = c->worker;
    if (w == NULL || w->nhandlers == 0)
        return client_fail(c, RS_CLIENT_E_ARG, "no handler is registered (rs_worker_register)");
    if (w->running || c->depth > 0)
        return client_fail(c, RS_CLIENT_E_ARG,
                           "rs_worker_run is not allowed inside a callback or itself");
    if (atomic_exchange(&w->stop, false))
        return RS_CLIENT_OK; /* stopped before it started */
    w->running = true;
    if (w->dirty)
        st = worker_register_names(c);
    if (st == RS_CLIENT_OK)
        st = worker_start_threads(c);
    if (st == RS_CLIENT_OK)
        st = worker_loop(c);
    worker_stop_threads(c);
    /* Outcomes that came after the loop ended belong to a session that is over. */
    worker_collect(c);
    w->running = false;
    w->stop_deadline = 0;
    w->drain_sent = false;
    w->drain_pending = false;
    atomic_store(&w->stop, false);
    return client_finish(c, st);
}

void rs_worker_stop(struct rs_client *c)
{
    if (c == NULL || c->worker == NULL)
        return;
    atomic_store(&c->worker->stop, true);
    worker_wake(c->worker);
}

enum rs_client_status rs_worker_register(struct rs_client *c, const char *name,
                                         rs_handler_fn handler, void *user)
{
    if (c == NULL)
        return RS_CLIENT_E_ARG;
    enum rs_client_status st = client_begin(c);
    if (st != RS_CLIENT_OK)
        return st;
    size_t n = name != NULL ? strlen(name) : 0;
    if (n == 0 || n > RS_MAX_NAME)
        return client_fail(c, RS_CLIENT_E_ARG, "function name must be 1..%u bytes", RS_MAX_NAME);
    if (handler == NULL)
        return client_fail(c, RS_CLIENT_E_ARG, "handler must not be NULL");
    struct worker *w = worker_get(c);
    if (w == NULL)
        return client_fail(c, RS_CLIENT_E_NOMEM, "out of memory (or no pipe) for the worker");
    if (w->running)
        return client_fail(c, RS_CLIENT_E_ARG, "not while rs_worker_run runs");
    if (worker_handler(w, name) != NULL)
        return client_fail(c, RS_CLIENT_E_ARG, "%s has a handler already", name);
    if (w->nhandlers >= RS_MAX_REGISTER)
        return client_fail(c, RS_CLIENT_E_ARG, "at most %u names per client", RS_MAX_REGISTER);
    char *copy = strdup(name);
    if (copy == NULL)
        return client_fail(c, RS_CLIENT_E_NOMEM, "out of memory");
    w->handlers[w->nhandlers++] = (struct worker_handler){copy, handler, user};
    w->dirty = true;
    return RS_CLIENT_OK;
}

enum rs_client_status rs_worker_set_stop_timeout(struct rs_client *c, unsigned ms)
{
    if (c == NULL)
        return RS_CLIENT_E_ARG;
    enum rs_client_status st = client_begin(c);
    if (st != RS_CLIENT_OK)
        return st;
    struct worker *w = worker_get(c);
    if (w == NULL)
        return client_fail(c, RS_CLIENT_E_NOMEM, "out of memory (or no pipe) for the worker");
    if (w->running)
        return client_fail(c, RS_CLIENT_E_ARG, "not while rs_worker_run runs");
    w->stop_timeout_ms = ms;
    return RS_CLIENT_OK;
}

enum rs_client_status rs_worker_set_concurrency(struct rs_client *c, unsigned n)
{
    if (c == NULL)
        return RS_CLIENT_E_ARG;
    enum rs_client_status st = client_begin(c);
    if (st != RS_CLIENT_OK)
        return st;
    if (n < 1 || n > WORKER_MAX_CONCURRENCY)
        return client_fail(c, RS_CLIENT_E_ARG, "concurrency must be 1..%u", WORKER_MAX_CONCURRENCY);
    struct worker *w = worker_get(c);
    if (w == NULL)
        return client_fail(c, RS_CLIENT_E_NOMEM, "out of memory (or no pipe) for the worker");
    if (w->running)
        return client_fail(c, RS_CLIENT_E_ARG, "not while rs_worker_run runs");
    if (w->concurrency != n)
        w->dirty = true;
    w->concurrency = n;
    return RS_CLIENT_OK;
}

/* ---- What a handler calls, on its pool thread ---- */

uint64_t rs_job_id(const struct rs_job_ctx *job)
{
    return job->job;
}

const char *rs_job_name(const struct rs_job_ctx *job)
{
    return job->name;
}

const uint8_t *rs_job_args(const struct rs_job_ctx *job, size_t *len)
{
    if (len != NULL)
        *len = job->args_len;
    return job->args;
}

uint64_t rs_job_attempt(const struct rs_job_ctx *job)
{
    return job->attempt;
}

void rs_job_step(struct rs_job_ctx *job, struct rs_enqueue_opts *opts)
{
    /* Only the handler's thread calls this for its job: no lock. */
    opts->parent = job->job;
    opts->step = job->next_step++;
}

enum rs_client_status rs_job_await(struct rs_job_ctx *job, struct rs_client *c, uint64_t awaited,
                                   int64_t timeout_ms, struct rs_completion **out)
{
    if (job == NULL || job->worker == NULL)
        return RS_CLIENT_E_ARG;
    struct worker *w = job->worker;
    /* The daemon now dispatches steps into this handler's slot: make sure a thread can run
     * them while this one waits (the pool grows, up to its hard bound, and stays grown). */
    pthread_mutex_lock(&w->mu);
    unsigned waiting = atomic_fetch_add(&w->nwaiting, 1) + 1;
    if (!w->quit && !w->paused && w->nthreads < w->concurrency + waiting &&
        w->nthreads < WORKER_MAX_CONCURRENCY) {
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        if (pthread_create(&w->threads[w->nthreads], NULL, worker_thread, w) == 0)
            w->nthreads++;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    pthread_mutex_unlock(&w->mu);
    enum rs_client_status st = calls_await(c, awaited, timeout_ms, job->job, job->attempt, out);
    atomic_fetch_sub(&w->nwaiting, 1);
    return st;
}

uint64_t rs_job_max_attempts(const struct rs_job_ctx *job)
{
    return job->max_attempts;
}

int64_t rs_job_deadline(const struct rs_job_ctx *job)
{
    return job->deadline;
}

bool rs_job_cancelled(const struct rs_job_ctx *job)
{
    return atomic_load(&((struct rs_job_ctx *)(uintptr_t)job)->cancelled);
}

int rs_job_release(struct rs_job_ctx *job)
{
    if (job != NULL)
        job->release = true;
    return -1;
}

enum rs_client_status rs_job_set_result(struct rs_job_ctx *job, const void *result, size_t len)
{
    if (job == NULL || (result == NULL && len > 0) || len > UINT32_MAX)
        return RS_CLIENT_E_ARG;
    uint8_t *p = malloc(len > 0 ? len : 1);
    if (p == NULL)
        return RS_CLIENT_E_NOMEM;
    if (len > 0)
        memcpy(p, result, len);
    free(job->result);
    job->result = p;
    job->result_len = len;
    return RS_CLIENT_OK;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 when it is not one. */
static size_t worker_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char b = s[0];
    size_t len;
    uint32_t cp;
    if (b < 0x80)
        return 1;
    if (b >= 0xc2 && b <= 0xdf) {
        len = 2;
        cp = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
        len = 3;
        cp = b & 0x0f;
    } else if (b >= 0xf0 && b <= 0xf4) {
        len = 4;
        cp = b & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Make s valid UTF-8 in place ('?' for each bad byte) and at most max bytes, cut between
 * characters. */
static void worker_utf8_clean(char *s, size_t max)
{
    unsigned char *p = (unsigned char *)s;
    size_t n = strlen(s), i = 0;
    while (i < n) {
        size_t k = worker_utf8_seq(p + i, n - i);
        if (k == 0) {
            p[i] = '?';
            k = 1;
        }
        if (i + k > max)
            break;
        i += k;
    }
    p[i] = '\0';
}

int rs_job_set_error(struct rs_job_ctx *job, bool retryable, const char *fmt, ...)
{
    if (job == NULL)
        return -1;
    job->retryable = retryable;
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1; /* no memory: the ACK carries the generic message */
    worker_utf8_clean(msg, RS_MAX_ERROR);
    free(job->error);
    job->error = msg;
    return -1;
}
