/*
 * pgconn: libpq in pipeline mode inside libevent. One-shot events re-armed after every step
 * with the socket libpq reports now (it changes across reconnects and during connect).
 */
#include "pgconn.h"

#include "schema.h"

#include <event2/event.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

/* What a request asks libpq to send. */
enum pgreq_kind {
    PGREQ_EXEC,    /* execute a prepared statement (user requests) */
    PGREQ_QUERY,   /* run SQL text with parameters (session setup) */
    PGREQ_PREPARE, /* prepare a statement (session setup) */
};

/* One statement on its way. Owned by the pgconn from submit until its callback returned;
 * its parameters live in the same allocation, just after the struct. */
struct pgreq {
    TAILQ_ENTRY(pgreq) link;
    enum pgreq_kind kind;
    const char *name; /* statement name, or SQL text for PGREQ_QUERY */
    const struct pgconn_prep *prep;
    int nparams;
    char **values;
    int *lengths;
    int *formats;
    int result_format;
    bool last;     /* the last statement of its batch: a sync follows it */
    bool internal; /* session setup: not counted in the queue bound */
    PGresult *res; /* held until the batch's sync */
    pgconn_cb cb;
    void *arg;
};

TAILQ_HEAD(pgreq_list, pgreq);

enum pgconn_state {
    PGCONN_S_WAIT,       /* no session; the timer starts the next attempt */
    PGCONN_S_CONNECTING, /* PQconnectPoll in progress */
    PGCONN_S_SETUP,      /* setup batch in flight */
    PGCONN_S_READY,      /* statements go out as they come */
    PGCONN_S_CLOSED,     /* pgconn_free called */
};

struct pgconn {
    struct event_base *base;
    PGconn *pg;
    enum pgconn_state state;
    struct event *io;    /* one-shot; re-assigned before every wait */
    struct event *timer; /* reconnect backoff, or connect timeout */

    /* libpq keyword/value arrays: our defaults first, then the user's conninfo (expanded from
     * dbname), so that whatever the user set wins. */
    const char *keys[8];
    const char *vals[8];
    char *conninfo;
    char *search_path; /* quoted schema, or NULL */
    char **listen_sql; /* "LISTEN <quoted channel>" per channel */
    size_t nchannels;
    const struct pgconn_prep *preps;
    size_t npreps;

    struct pgreq_list waiting; /* accepted, not sent */
    struct pgreq_list sent;    /* sent, results not all in */
    struct pgreq_list done;    /* results in, waiting for their batch's sync */
    size_t queued;             /* user statements in the three lists */
    size_t max_queue;
    int connect_timeout_ms;
    int backoff_ms;
    bool was_ready; /* a session was set up before: the next on_ready is a reconnect */
    struct pgconn_stats stats;
    bool setup_failed;
    char setup_err[256];

    int depth;        /* entry points (event callbacks, user callbacks) on the stack */
    bool doomed;      /* pgconn_free called while depth > 0 */
    char broken[256]; /* a failure seen outside the loop, dropped from the timer */

    void (*on_ready)(void *arg, bool reconnect);
    void (*on_down)(void *arg, const char *why);
    void (*on_notify)(void *arg, const char *channel, const char *payload);
    void *arg;
};

static void pgconn_io(evutil_socket_t fd, short what, void *arg);
static void pgconn_timer(evutil_socket_t fd, short what, void *arg);
static void pgconn_drop(struct pgconn *c, const char *why);
static void pgconn_destroy(struct pgconn *c);

/* Discard server NOTICEs: nothing we send is expected to raise one worth a log line. */
static void pgconn_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Allocate a request with a private copy of its parameters. */
static struct pgreq *pgreq_new(enum pgreq_kind kind, const char *name, int nparams,
                               const char *const *values, const int *lengths, const int *formats)
{
    size_t size = sizeof(struct pgreq), off;
    struct pgreq *r;
    char *p;

    if (nparams < 0 || nparams > 65535)
        return NULL;
    size += (size_t)nparams * (sizeof(char *) + 2 * sizeof(int));
    for (int i = 0; i < nparams; i++) {
        if (values == NULL || values[i] == NULL)
            continue;
        if (formats != NULL && formats[i] != 0) {
            if (lengths == NULL || lengths[i] < 0)
                return NULL;
            size += (size_t)lengths[i] + 1;
        } else {
            size += strlen(values[i]) + 1;
        }
    }
    r = calloc(1, size);
    if (r == NULL)
        return NULL;
    r->kind = kind;
    r->name = name;
    r->nparams = nparams;
    p = (char *)(r + 1);
    r->values = (char **)(void *)p;
    off = (size_t)nparams * sizeof(char *);
    r->lengths = (int *)(void *)(p + off);
    off += (size_t)nparams * sizeof(int);
    r->formats = (int *)(void *)(p + off);
    off += (size_t)nparams * sizeof(int);
    for (int i = 0; i < nparams; i++) {
        size_t len;

        r->formats[i] = formats != NULL ? formats[i] != 0 : 0;
        if (values == NULL || values[i] == NULL) {
            r->values[i] = NULL;
            continue;
        }
        len = r->formats[i] ? (size_t)lengths[i] : strlen(values[i]);
        r->values[i] = p + off;
        memcpy(r->values[i], values[i], len);
        r->values[i][len] = '\0';
        r->lengths[i] = (int)len;
        off += len + 1;
    }
    return r;
}

/* Run a user callback, counting the depth so that pgconn_free inside it is deferred. */
static void pgconn_call(struct pgconn *c, struct pgreq *r, PGresult *res, const char *err)
{
    c->depth++;
    r->cb(r->arg, res, err);
    c->depth--;
}

/* Answer every request of list with err (res NULL) and free them. */
static void pgconn_fail_list(struct pgconn *c, struct pgreq_list *list, const char *err)
{
    struct pgreq *r;

    while ((r = TAILQ_FIRST(list)) != NULL) {
        TAILQ_REMOVE(list, r, link);
        if (!r->internal)
            c->queued--;
        if (r->cb != NULL)
            pgconn_call(c, r, NULL, err);
        PQclear(r->res);
        free(r);
    }
}

/* Wait for the socket to be readable (always, while a session is open: results and
 * notifications may come at any time) and writable when libpq has output left. */
static void pgconn_wait(struct pgconn *c, short what)
{
    int fd = PQsocket(c->pg);

    event_del(c->io);
    if (fd < 0) {
        pgconn_drop(c, "libpq reports no socket");
        return;
    }
    event_assign(c->io, c->base, fd, what, pgconn_io, c);
    if (event_add(c->io, NULL) != 0)
        pgconn_drop(c, "cannot watch the socket (event_add failed)");
}

/* Flush what libpq buffered, then wait for whatever comes next. */
static void pgconn_rearm(struct pgconn *c)
{
    int flushed;

    if (c->pg == NULL)
        return;
    flushed = PQflush(c->pg);
    if (flushed < 0) {
        pgconn_drop(c, PQerrorMessage(c->pg));
        return;
    }
    pgconn_wait(c, (short)(EV_READ | (flushed == 1 ? EV_WRITE : 0)));
}

/* Hand one request to libpq. */
static int pgconn_send_one(struct pgconn *c, struct pgreq *r)
{
    switch (r->kind) {
    case PGREQ_EXEC:
        return PQsendQueryPrepared(c->pg, r->name, r->nparams, (const char *const *)r->values,
                                   r->lengths, r->formats, r->result_format);
    case PGREQ_QUERY:
        return PQsendQueryParams(c->pg, r->name, r->nparams, NULL, (const char *const *)r->values,
                                 r->lengths, r->formats, r->result_format);
    case PGREQ_PREPARE:
        return PQsendPrepare(c->pg, r->prep->name, r->prep->sql, r->prep->nparams, r->prep->types);
    }
    return 0;
}

/* Move whole batches from waiting to sent. Returns -1 (connection dropped) on failure. */
static int pgconn_send_waiting(struct pgconn *c)
{
    struct pgreq *r;

    while ((r = TAILQ_FIRST(&c->waiting)) != NULL) {
        TAILQ_REMOVE(&c->waiting, r, link);
        TAILQ_INSERT_TAIL(&c->sent, r, link);
        if (!pgconn_send_one(c, r) || (r->last && !PQpipelineSync(c->pg))) {
            pgconn_drop(c, PQerrorMessage(c->pg));
            return -1;
        }
    }
    return 0;
}

/* The message of a failed result, without libpq's trailing newline. */
static void pgconn_errtext(const PGresult *res, char *buf, size_t size)
{
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    size_t len;

    if (msg == NULL)
        msg = PQresultErrorMessage(res);
    if (msg == NULL || msg[0] == '\0')
        msg = PQresStatus(PQresultStatus(res));
    snprintf(buf, size, "%s", msg);
    len = strlen(buf);
    while (len > 0 && buf[len - 1] == '\n')
        buf[--len] = '\0';
}

static bool pgconn_res_ok(const PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);

    return res != NULL && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK);
}

/* The sync of the batch at the head of done arrived: its fate is known. Detach the batch,
 * then answer its statements in order (callbacks may submit more or free the pgconn). */
static void pgconn_finish_batch(struct pgconn *c)
{
    struct pgreq_list batch = TAILQ_HEAD_INITIALIZER(batch);
    struct pgreq *r, *failed = NULL;
    char msg[512] = "", why[768];
    const char *failed_name;
    bool before = true;

    while ((r = TAILQ_FIRST(&c->done)) != NULL) {
        TAILQ_REMOVE(&c->done, r, link);
        TAILQ_INSERT_TAIL(&batch, r, link);
        if (failed == NULL && !pgconn_res_ok(r->res))
            failed = r;
        if (r->last)
            break;
    }
    c->stats.round_trips++;
    if (failed != NULL)
        c->stats.errors++;
    /* Copied: the failed request is freed before the ones after it are answered. */
    failed_name = failed != NULL ? failed->name : NULL;
    if (failed != NULL) {
        if (failed->res != NULL)
            pgconn_errtext(failed->res, msg, sizeof(msg));
        else
            snprintf(msg, sizeof(msg), "no result");
    }
    while ((r = TAILQ_FIRST(&batch)) != NULL) {
        const char *err = NULL;

        TAILQ_REMOVE(&batch, r, link);
        if (!r->internal)
            c->queued--;
        if (failed == r) {
            err = msg;
            before = false;
        } else if (failed != NULL) {
            snprintf(why, sizeof(why), "%s: statement %s of the same transaction failed: %s",
                     before ? "rolled back" : "not run", failed_name, msg);
            err = why;
        }
        if (r->cb != NULL)
            pgconn_call(c, r, r->res, err);
        PQclear(r->res);
        free(r);
    }
}

/* Read every result libpq has complete. Returns -1 when the session was dropped. */
static int pgconn_read_results(struct pgconn *c)
{
    while (c->pg != NULL && (!TAILQ_EMPTY(&c->sent) || !TAILQ_EMPTY(&c->done))) {
        struct pgreq *r;
        PGresult *res;

        if (PQstatus(c->pg) == CONNECTION_BAD) {
            pgconn_drop(c, PQerrorMessage(c->pg));
            return -1;
        }
        if (PQisBusy(c->pg))
            break;
        res = PQgetResult(c->pg);
        r = TAILQ_FIRST(&c->sent);
        if (res == NULL) {
            /* The results of the statement at the head of sent are complete. With nothing
             * sent, libpq has nothing more for us until the next sync arrives. */
            if (r == NULL)
                break;
            TAILQ_REMOVE(&c->sent, r, link);
            TAILQ_INSERT_TAIL(&c->done, r, link);
            continue;
        }
        if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
            struct pgreq *last = TAILQ_LAST(&c->done, pgreq_list);

            PQclear(res);
            if (last == NULL || !last->last) {
                pgconn_drop(c, "pipeline out of step: a sync arrived before its statements");
                return -1;
            }
            pgconn_finish_batch(c);
            if (c->state == PGCONN_S_CLOSED || c->pg == NULL)
                return -1;
            continue;
        }
        if (r == NULL) {
            /* A result for no statement: in practice a FATAL error as the server ends the
             * session. */
            char msg[512];

            pgconn_errtext(res, msg, sizeof(msg));
            PQclear(res);
            pgconn_drop(c, msg);
            return -1;
        }
        /* One result per statement is expected; keep the first failure if several come. */
        if (r->res == NULL || (pgconn_res_ok(r->res) && !pgconn_res_ok(res))) {
            PQclear(r->res);
            r->res = res;
        } else {
            PQclear(res);
        }
    }
    return c->pg != NULL ? 0 : -1;
}

/* Deliver LISTEN notifications that arrived with the last read. */
static void pgconn_read_notifies(struct pgconn *c)
{
    PGnotify *n;

    while (c->pg != NULL && (n = PQnotifies(c->pg)) != NULL) {
        if (c->on_notify != NULL) {
            c->depth++;
            c->on_notify(c->arg, n->relname, n->extra);
            c->depth--;
        }
        PQfreemem(n);
    }
}

/* Completion of the setup batch: the last setup statement's callback gets here. */
static void pgconn_setup_cb(void *arg, PGresult *res, const char *err)
{
    struct pgconn *c = arg;

    (void)res;
    if (err != NULL && !c->setup_failed) {
        c->setup_failed = true;
        snprintf(c->setup_err, sizeof(c->setup_err), "session setup failed: %s", err);
    }
}

/* Queue (at the head of sent) and send the setup batch of a fresh session. */
static int pgconn_send_setup(struct pgconn *c)
{
    struct pgreq_list setup = TAILQ_HEAD_INITIALIZER(setup);
    const char *isolation[] = {"default_transaction_isolation", "read committed"};
    const char *plans[] = {"plan_cache_mode", "force_generic_plan"};
    const char *path[] = {"search_path", c->search_path};
    struct pgreq *r;

    /* READ COMMITTED whatever the database default: the enqueue batch relies on each
     * statement seeing rows committed before it started (stmts.c). */
    r = pgreq_new(PGREQ_QUERY, "SELECT pg_catalog.set_config($1, $2, false)", 2, isolation, NULL,
                  NULL);
    if (r == NULL)
        goto nomem;
    TAILQ_INSERT_TAIL(&setup, r, link);
    /* Plan every prepared statement once: left to choose, PostgreSQL re-plans the claim on each
     * execution (its generic plan's estimate looks worse), which cost more than running it
     * (docs/benchmarks.md). Every statement in stmts.c is written to need no custom plan. */
    r = pgreq_new(PGREQ_QUERY, "SELECT pg_catalog.set_config($1, $2, false)", 2, plans, NULL, NULL);
    if (r == NULL)
        goto nomem;
    TAILQ_INSERT_TAIL(&setup, r, link);
    if (c->search_path != NULL) {
        r = pgreq_new(PGREQ_QUERY, "SELECT pg_catalog.set_config($1, $2, false)", 2, path, NULL,
                      NULL);
        if (r == NULL)
            goto nomem;
        TAILQ_INSERT_TAIL(&setup, r, link);
    }
    for (size_t i = 0; i < c->npreps; i++) {
        r = pgreq_new(PGREQ_PREPARE, c->preps[i].name, 0, NULL, NULL, NULL);
        if (r == NULL)
            goto nomem;
        r->prep = &c->preps[i];
        TAILQ_INSERT_TAIL(&setup, r, link);
    }
    for (size_t i = 0; i < c->nchannels; i++) {
        r = pgreq_new(PGREQ_QUERY, c->listen_sql[i], 0, NULL, NULL, NULL);
        if (r == NULL)
            goto nomem;
        TAILQ_INSERT_TAIL(&setup, r, link);
    }
    c->setup_failed = false;
    TAILQ_FOREACH(r, &setup, link)
    {
        r->internal = true;
        r->cb = pgconn_setup_cb;
        r->arg = c;
    }
    TAILQ_LAST(&setup, pgreq_list)->last = true;
    /* Setup goes before any user statement: sent is empty at this point. */
    while ((r = TAILQ_FIRST(&setup)) != NULL) {
        TAILQ_REMOVE(&setup, r, link);
        TAILQ_INSERT_TAIL(&c->sent, r, link);
        if (!pgconn_send_one(c, r) || (r->last && !PQpipelineSync(c->pg))) {
            pgconn_drop(c, PQerrorMessage(c->pg));
            return -1;
        }
    }
    return 0;

nomem:
    while ((r = TAILQ_FIRST(&setup)) != NULL) {
        TAILQ_REMOVE(&setup, r, link);
        free(r);
    }
    pgconn_drop(c, "out of memory setting up the session");
    return -1;
}

/* The socket of a new connection is up and authenticated: switch to pipeline mode, set up. */
static void pgconn_connected(struct pgconn *c)
{
    if (PQsetnonblocking(c->pg, 1) != 0 || PQenterPipelineMode(c->pg) != 1) {
        pgconn_drop(c, PQerrorMessage(c->pg));
        return;
    }
    PQsetNoticeProcessor(c->pg, pgconn_quiet, NULL);
    c->state = PGCONN_S_SETUP;
    if (pgconn_send_setup(c) != 0)
        return;
    pgconn_rearm(c);
    if (c->pg != NULL) {
        /* The connect timeout goes on covering setup. */
        struct timeval tv = {c->connect_timeout_ms / 1000, (c->connect_timeout_ms % 1000) * 1000};

        event_add(c->timer, &tv);
    }
}

/* Setup finished (its sync arrived and its callbacks ran): ready, or drop and retry. */
static void pgconn_setup_finished(struct pgconn *c)
{
    bool reconnect = c->was_ready;

    if (c->setup_failed) {
        pgconn_drop(c, c->setup_err);
        return;
    }
    event_del(c->timer);
    c->state = PGCONN_S_READY;
    if (reconnect)
        c->stats.reconnects++;
    c->was_ready = true;
    c->backoff_ms = PGCONN_BACKOFF_MIN_MS;
    if (pgconn_send_waiting(c) != 0)
        return;
    if (c->on_ready != NULL) {
        c->depth++;
        c->on_ready(c->arg, reconnect);
        c->depth--;
    }
}

/* Drive PQconnectPoll one step. */
static void pgconn_poll_connect(struct pgconn *c)
{
    switch (PQconnectPoll(c->pg)) {
    case PGRES_POLLING_READING:
        pgconn_wait(c, EV_READ);
        break;
    case PGRES_POLLING_WRITING:
        pgconn_wait(c, EV_WRITE);
        break;
    case PGRES_POLLING_OK:
        pgconn_connected(c);
        break;
    case PGRES_POLLING_FAILED:
    default:
        pgconn_drop(c, PQerrorMessage(c->pg));
        break;
    }
}

/* Start one connection attempt. */
static void pgconn_start(struct pgconn *c)
{
    struct timeval tv = {c->connect_timeout_ms / 1000, (c->connect_timeout_ms % 1000) * 1000};

    c->state = PGCONN_S_CONNECTING;
    c->pg = PQconnectStartParams(c->keys, c->vals, 1);
    if (c->pg == NULL) {
        pgconn_drop(c, "out of memory starting a connection");
        return;
    }
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        pgconn_drop(c, PQerrorMessage(c->pg));
        return;
    }
    event_add(c->timer, &tv);
    /* libpq's rule for a fresh PQconnectStart: behave as if polling returned WRITING. */
    pgconn_wait(c, EV_WRITE);
}

/* Leave an entry point: carry out a pgconn_free that a callback asked for. */
static void pgconn_leave(struct pgconn *c)
{
    if (c->doomed && c->depth == 0)
        pgconn_destroy(c);
}

static void pgconn_io(evutil_socket_t fd, short what, void *arg)
{
    struct pgconn *c = arg;

    (void)fd;
    c->depth++;
    if (c->state == PGCONN_S_CONNECTING) {
        pgconn_poll_connect(c);
    } else if (c->state == PGCONN_S_SETUP || c->state == PGCONN_S_READY) {
        if ((what & EV_READ) && !PQconsumeInput(c->pg)) {
            pgconn_drop(c, PQerrorMessage(c->pg));
        } else {
            bool in_setup = c->state == PGCONN_S_SETUP;

            if (pgconn_read_results(c) == 0) {
                if (in_setup && TAILQ_EMPTY(&c->sent) && TAILQ_EMPTY(&c->done))
                    pgconn_setup_finished(c);
                pgconn_read_notifies(c);
                pgconn_rearm(c);
            }
        }
    }
    c->depth--;
    pgconn_leave(c);
}

static void pgconn_timer(evutil_socket_t fd, short what, void *arg)
{
    struct pgconn *c = arg;

    (void)fd;
    (void)what;
    c->depth++;
    if (c->broken[0] != '\0') {
        char why[sizeof(c->broken)];

        memcpy(why, c->broken, sizeof(why));
        pgconn_drop(c, why);
    } else if (c->state == PGCONN_S_WAIT) {
        pgconn_start(c);
    } else if (c->state == PGCONN_S_CONNECTING || c->state == PGCONN_S_SETUP)
        pgconn_drop(c, "timed out connecting to PostgreSQL");

    c->depth--;
    pgconn_leave(c);
}

/* End the session (if any), fail what was sent, keep what waits, and schedule a retry.
 * Outside the event loop (inside pgconn_submit or pgconn_new) callbacks must not run: there
 * the failure is noted and the drop happens from the timer, at once. */
static void pgconn_drop(struct pgconn *c, const char *why)
{
    static const struct timeval now = {0, 0};
    char reason[512];
    struct timeval tv;
    size_t len;

    if (c->state == PGCONN_S_CLOSED || c->state == PGCONN_S_WAIT)
        return;
    if (c->depth == 0) {
        if (c->broken[0] == '\0')
            snprintf(c->broken, sizeof(c->broken), "%.*s", (int)sizeof(c->broken) - 1,
                     why != NULL && why[0] != '\0' ? why : "unknown");
        event_del(c->timer);
        event_add(c->timer, &now);
        return;
    }
    c->broken[0] = '\0';
    c->stats.errors++;
    /* why may point into the PGconn we are about to finish. */
    snprintf(reason, sizeof(reason), "%s", why != NULL && why[0] != '\0' ? why : "unknown");
    len = strlen(reason);
    while (len > 0 && (reason[len - 1] == '\n' || reason[len - 1] == ' '))
        reason[--len] = '\0';
    event_del(c->io);
    event_del(c->timer);
    if (c->pg != NULL)
        PQfinish(c->pg);
    c->pg = NULL;
    c->state = PGCONN_S_WAIT;

    tv.tv_sec = c->backoff_ms / 1000;
    tv.tv_usec = (c->backoff_ms % 1000) * 1000;
    event_add(c->timer, &tv);
    c->backoff_ms =
        c->backoff_ms * 2 > PGCONN_BACKOFF_MAX_MS ? PGCONN_BACKOFF_MAX_MS : c->backoff_ms * 2;
    {
        char err[640];

        snprintf(err, sizeof(err),
                 PGCONN_IN_DOUBT "connection to PostgreSQL lost (%s); the transaction may "
                                 "or may not have committed",
                 reason);
        pgconn_fail_list(c, &c->done, err);
        pgconn_fail_list(c, &c->sent, err);
    }
    if (c->on_down != NULL && !c->doomed) {
        c->depth++;
        c->on_down(c->arg, reason);
        c->depth--;
    }
}

/* Build the libpq keyword/value arrays: defaults, then the user's string (which wins). */
static void pgconn_params(struct pgconn *c)
{
    size_t n = 0;

    c->keys[n] = "application_name";
    c->vals[n++] = "reseoliod";
    /* Notice a dead server or a cut network on an idle session within about a minute. */
    c->keys[n] = "keepalives";
    c->vals[n++] = "1";
    c->keys[n] = "keepalives_idle";
    c->vals[n++] = "30";
    c->keys[n] = "keepalives_interval";
    c->vals[n++] = "10";
    c->keys[n] = "keepalives_count";
    c->vals[n++] = "3";
    c->keys[n] = "dbname";
    c->vals[n++] = c->conninfo;
    c->keys[n] = NULL;
    c->vals[n] = NULL;
}

/* Quote an identifier without a connection (PQescapeIdentifier needs one): the names we
 * accept (schema_name_valid, channels) need only the surrounding quotes and doubled quotes. */
static char *pgconn_quote(const char *name)
{
    size_t len = strlen(name), j = 0;
    char *q = malloc(2 * len + 3);

    if (q == NULL)
        return NULL;
    q[j++] = '"';
    for (size_t i = 0; i < len; i++) {
        if (name[i] == '"')
            q[j++] = '"';
        q[j++] = name[i];
    }
    q[j++] = '"';
    q[j] = '\0';
    return q;
}

struct pgconn *pgconn_new(struct event_base *base, const struct pgconn_config *cfg)
{
    struct pgconn *c;

    if (base == NULL || cfg == NULL || cfg->conninfo == NULL ||
        (cfg->schema != NULL && !schema_name_valid(cfg->schema)))
        return NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    TAILQ_INIT(&c->waiting);
    TAILQ_INIT(&c->sent);
    TAILQ_INIT(&c->done);
    c->base = base;
    c->state = PGCONN_S_WAIT;
    c->preps = cfg->preps;
    c->npreps = cfg->npreps;
    c->max_queue = cfg->max_queue > 0 ? cfg->max_queue : PGCONN_MAX_QUEUE_DEFAULT;
    c->connect_timeout_ms =
        cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : PGCONN_CONNECT_TIMEOUT_DEFAULT_MS;
    c->backoff_ms = PGCONN_BACKOFF_MIN_MS;
    c->on_ready = cfg->on_ready;
    c->on_down = cfg->on_down;
    c->on_notify = cfg->on_notify;
    c->arg = cfg->arg;
    c->conninfo = strdup(cfg->conninfo);
    c->io = event_new(base, -1, 0, pgconn_io, c);
    c->timer = evtimer_new(base, pgconn_timer, c);
    if (cfg->schema != NULL)
        c->search_path = pgconn_quote(cfg->schema);
    if (cfg->nchannels > 0)
        c->listen_sql = calloc(cfg->nchannels, sizeof(char *));
    if (c->conninfo == NULL || c->io == NULL || c->timer == NULL ||
        (cfg->schema != NULL && c->search_path == NULL) ||
        (cfg->nchannels > 0 && c->listen_sql == NULL))
        goto fail;
    for (; c->nchannels < cfg->nchannels; c->nchannels++) {
        char *q = pgconn_quote(cfg->channels[c->nchannels]);

        if (q == NULL || asprintf(&c->listen_sql[c->nchannels], "LISTEN %s", q) < 0) {
            free(q);
            goto fail;
        }
        free(q);
    }
    pgconn_params(c);
    pgconn_start(c);
    return c;

fail:
    pgconn_destroy(c);
    return NULL;
}

enum pgconn_status pgconn_submit(struct pgconn *c, const struct pgconn_stmt *stmts, size_t n)
{
    struct pgreq_list batch = TAILQ_HEAD_INITIALIZER(batch);
    struct pgreq *r;

    if (c->state == PGCONN_S_CLOSED || c->doomed)
        return PGCONN_CLOSED;
    if (n == 0)
        return PGCONN_INVALID;
    if (n > c->max_queue - c->queued)
        return PGCONN_FULL;
    for (size_t i = 0; i < n; i++) {
        if (stmts[i].cb == NULL || stmts[i].name == NULL) {
            r = NULL;
        } else {
            r = pgreq_new(PGREQ_EXEC, stmts[i].name, stmts[i].nparams, stmts[i].values,
                          stmts[i].lengths, stmts[i].formats);
        }
        if (r == NULL) {
            while ((r = TAILQ_FIRST(&batch)) != NULL) {
                TAILQ_REMOVE(&batch, r, link);
                free(r);
            }
            return stmts[i].cb == NULL || stmts[i].name == NULL ? PGCONN_INVALID : PGCONN_NOMEM;
        }
        r->result_format = stmts[i].result_format;
        r->cb = stmts[i].cb;
        r->arg = stmts[i].arg;
        r->last = i + 1 == n;
        TAILQ_INSERT_TAIL(&batch, r, link);
    }
    TAILQ_CONCAT(&c->waiting, &batch, link);
    c->queued += n;
    /* Sent now when a session is ready; the callbacks only ever fire from the event loop. */
    if (c->state == PGCONN_S_READY && pgconn_send_waiting(c) == 0)
        pgconn_rearm(c);
    return PGCONN_OK;
}

void pgconn_fail_waiting(struct pgconn *c, const char *err)
{
    struct pgreq_list list = TAILQ_HEAD_INITIALIZER(list);

    TAILQ_CONCAT(&list, &c->waiting, link);
    c->depth++;
    pgconn_fail_list(c, &list, err);
    c->depth--;
    pgconn_leave(c);
}

bool pgconn_ready(const struct pgconn *c)
{
    return c->state == PGCONN_S_READY;
}

size_t pgconn_pending(const struct pgconn *c)
{
    return c->queued;
}

void pgconn_stats(const struct pgconn *c, struct pgconn_stats *out)
{
    *out = c->stats;
}

int pgconn_backend_pid(const struct pgconn *c)
{
    return c->pg != NULL && (c->state == PGCONN_S_SETUP || c->state == PGCONN_S_READY)
               ? PQbackendPID(c->pg)
               : 0;
}

bool pgconn_retryable(const PGresult *res)
{
    const char *state;

    if (res == NULL)
        return true;
    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (state == NULL)
        return PQresultStatus(res) == PGRES_PIPELINE_ABORTED;
    /* 40: serialization failure, deadlock; 08: connection; 53: resources; 57P0x: shutdown,
     * crash, cannot connect now; 55P03: lock not available. */
    return strncmp(state, "40", 2) == 0 || strncmp(state, "08", 2) == 0 ||
           strncmp(state, "53", 2) == 0 || strncmp(state, "57P0", 4) == 0 ||
           strcmp(state, "55P03") == 0;
}

/* Free everything; callbacks of outstanding requests fire first. */
static void pgconn_destroy(struct pgconn *c)
{
    c->state = PGCONN_S_CLOSED;
    if (c->io != NULL)
        event_del(c->io);
    if (c->timer != NULL)
        event_del(c->timer);
    c->depth++;
    pgconn_fail_list(c, &c->done,
                     PGCONN_IN_DOUBT "connection closed before the result "
                                     "arrived; the transaction may or may not "
                                     "have committed");
    pgconn_fail_list(c, &c->sent,
                     PGCONN_IN_DOUBT "connection closed before the result "
                                     "arrived; the transaction may or may not "
                                     "have committed");
    pgconn_fail_list(c, &c->waiting, "connection closed; the statement was never sent");
    c->depth--;
    if (c->pg != NULL)
        PQfinish(c->pg);
    if (c->io != NULL)
        event_free(c->io);
    if (c->timer != NULL)
        event_free(c->timer);
    for (size_t i = 0; i < c->nchannels; i++)
        free(c->listen_sql[i]);
    free(c->listen_sql);
    free(c->search_path);
    free(c->conninfo);
    free(c);
}

void pgconn_free(struct pgconn *c)
{
    if (c == NULL || c->doomed)
        return;
    c->doomed = true;
    if (c->depth == 0)
        pgconn_destroy(c);
}
