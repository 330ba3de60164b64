/*
 * The job engine: the store connections (work and LISTEN), the node's heartbeat, the routing
 * of job requests to the batchers, scheduler and waiters, wake-ups from NOTIFY, and the
 * graceful stop. docs/architecture.md describes the whole flow.
 */
#include "engine.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "boot.h"
#include "completer.h"
#include "conn.h"
#include "enqueuer.h"
#include "gauges.h"
#include "jobops.h"
#include "jobstore.h"
#include "log.h"
#include "metrics.h"
#include "schedops.h"
#include "scheduler.h"
#include "schedtimer.h"
#include "server.h"
#include "session.h"
#include "stmts.h"
#include "waiters.h"

/* Sweeps between two prunes of lapsed node rows, and how long a node must be gone. */
#define ENGINE_PRUNE_EVERY    60
#define ENGINE_PRUNE_LAPSE_MS (3600 * 1000)
/* After the grace, how long the release and node removal may take before we exit anyway. */
#define ENGINE_STOP_HARD_MS 5000

/* Wall clock in Unix ms. */
int64_t engine_now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Answer a failed store operation: retryable trouble is "unavailable", the rest "internal". */
int engine_reply_store_error(struct conn *c, uint32_t rid, const char *what,
                             const struct jobstore_err *err)
{
    if (err->in_doubt)
        return conn_send_error(c, rid, RS_E_UNAVAILABLE, true,
                               "%s: the connection to PostgreSQL was lost; it may or may not "
                               "have been applied",
                               what);
    if (err->retryable)
        return conn_send_error(c, rid, RS_E_UNAVAILABLE, true, "%s: PostgreSQL: %s", what,
                               err->message);
    return conn_send_error(c, rid, RS_E_INTERNAL, false, "%s failed in PostgreSQL (SQLSTATE %s)",
                           what, err->sqlstate[0] ? err->sqlstate : "none");
}

/* Answer a submit the store refused. */
int engine_reply_submit_error(struct conn *c, uint32_t rid, const char *what, int status)
{
    if (status == PGCONN_FULL)
        return conn_send_error(c, rid, RS_E_UNAVAILABLE, true,
                               "%s: too many statements wait for PostgreSQL; try again", what);
    if (status == PGCONN_CLOSED)
        return conn_send_error(c, rid, RS_E_SHUTTING_DOWN, true, "%s: the daemon is stopping",
                               what);
    return conn_send_error(c, rid, RS_E_INTERNAL, true, "%s: cannot send it to PostgreSQL (%d)",
                           what, status);
}

/* Hex digit value, or -1. */
static int engine_hex(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Heartbeat committed (or not). */
static void engine_on_beat(void *arg, size_t count, const struct jobstore_err *err)
{
    if (err != NULL)
        log_warn("heartbeat failed: %s; if it keeps failing for %d s other daemons take this "
                 "node's running jobs",
                 err->message, ((struct engine *)arg)->lapse_ms / 1000);
}

/* Reclaim of lapsed nodes' jobs came back. */
static void engine_on_reclaimed(void *arg, const struct jobstore_moved *rows, size_t n,
                                const struct jobstore_err *err)
{
    if (err != NULL) {
        log_warn("reclaiming jobs of lapsed nodes failed: %s; the next sweep tries again",
                 err->message);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        metrics_job_moved(rows[i].name, rows[i].name_len, METRICS_RECLAIMED,
                          rows[i].status == JOBSTORE_DEAD);
        log_info("job %lld attempt %d reclaimed from a lapsed node: now %s", (long long)rows[i].id,
                 rows[i].attempt, jobstore_status_name(rows[i].status));
    }
}

/* Lapsed node rows removed. */
static void engine_on_pruned(void *arg, size_t count, const struct jobstore_err *err)
{
    if (err == NULL && count > 0)
        log_info("removed %zu lapsed node row(s)", count);
}

static void engine_prune(struct engine *e);

/* A retention batch came back: go on at once while batches come back full. */
static void engine_on_jobs_pruned(void *arg, size_t count, const struct jobstore_err *err)
{
    struct engine *e = arg;
    e->pruning = false;
    if (err != NULL) {
        log_warn("deleting finished jobs past the retention failed: %s; the next sweep retries",
                 err->message);
        return;
    }
    e->pruned += count;
    if (count > 0)
        log_debug("retention: deleted %zu finished job(s) older than %u s", count, e->retention_s);
    if (count >= ENGINE_PRUNE_BATCH && !e->stopping)
        engine_prune(e);
}

/* Delete one batch of finished jobs past the retention, unless one is in flight. */
static void engine_prune(struct engine *e)
{
    if (e->retention_s == 0 || e->pruning || e->db == NULL)
        return;
    if (jobstore_prune_jobs(e->db, (int64_t)e->retention_s, ENGINE_PRUNE_BATCH,
                            engine_on_jobs_pruned, e) == PGCONN_OK)
        e->pruning = true;
    else
        log_debug("cannot send the retention batch now; the next sweep retries");
}

/* How often a held-back vacuum is reported while it lasts. */
#define ENGINE_SNAPSHOT_WARN_EVERY_MS 60000

/* The oldest snapshot look-up came back: warn of one older than vacuum_warn_s. */
static void engine_on_snapshot(void *arg, const struct jobstore_snapshot *old,
                               const struct jobstore_err *err)
{
    struct engine *e = arg;
    e->snapshot_asking = false;
    if (err != NULL) {
        log_debug("looking for transactions that hold back vacuum failed: %s", err->message);
        return;
    }
    uint64_t now = (uint64_t)engine_now_ms();
    if (old == NULL ||
        (e->snapshot_warned_ms != 0 && now - e->snapshot_warned_ms < ENGINE_SNAPSHOT_WARN_EVERY_MS))
        return;
    e->snapshot_warned_ms = now;
    if (old->pid == 0)
        log_warn("prepared transaction '%s' has held back vacuum for %lld s: PostgreSQL cannot "
                 "remove the rows and index entries of jobs that changed since, so the jobs "
                 "table and its indexes grow until it is committed or rolled back",
                 old->who, (long long)old->age_s);
    else
        log_warn("a transaction (pid %d, application '%s', %s) has held back vacuum for %lld s: "
                 "PostgreSQL cannot remove the rows and index entries of jobs that changed "
                 "since, so the jobs table and its indexes grow until it ends (see "
                 "docs/operations.md, \"Table health\")",
                 (int)old->pid, old->who, old->state, (long long)old->age_s);
}

/* Look for a transaction that has held back vacuum longer than vacuum_warn_s. */
static void engine_check_snapshots(struct engine *e)
{
    if (e->vacuum_warn_s == 0 || e->snapshot_asking || e->db == NULL)
        return;
    if (jobstore_oldest_snapshot(e->db, (int64_t)e->vacuum_warn_s, engine_on_snapshot, e) ==
        PGCONN_OK)
        e->snapshot_asking = true;
}

/* Every sweep_ms: heartbeat, reclaim, expiry, catch-up claim, retention, held-back vacuum. */
static void engine_on_sweep(evutil_socket_t fd, short what, void *arg)
{
    struct engine *e = arg;
    static unsigned sweeps;
    if (e->stopping)
        return;
    if (jobstore_node_beat(e->db, e->node, e->host, (int32_t)getpid(), engine_on_beat, e) !=
        PGCONN_OK)
        log_warn("cannot send the heartbeat now; trying at the next sweep");
    if (jobstore_reclaim(e->db, (int64_t)e->lapse_ms, ENGINE_MOVE_LIMIT,
                         "the daemon running the attempt stopped heartbeating", engine_on_reclaimed,
                         e) != PGCONN_OK)
        log_debug("cannot send the reclaim now");
    scheduler_expire(e->scheduler);
    scheduler_catch_up(e->scheduler);
    schedtimer_rearm(e->schedtimer);
    engine_prune(e);
    engine_check_snapshots(e);
    if (++sweeps % ENGINE_PRUNE_EVERY == 0 &&
        jobstore_node_prune(e->db, ENGINE_PRUNE_LAPSE_MS, engine_on_pruned, e) != PGCONN_OK)
        log_debug("cannot send the node prune now");
}

/* Parse "c:<id>,<id>..." and hand the ids on. */
static void engine_on_done_ids(struct engine *e, const char *p)
{
    int64_t ids[400];
    size_t n = 0;
    while (*p != '\0' && n < sizeof(ids) / sizeof(ids[0])) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno != 0)
            break;
        ids[n++] = v;
        p = *end == ',' ? end + 1 : end;
        if (*end != ',')
            break;
    }
    for (size_t i = 0; i < n; i++)
        scheduler_job_final(e->scheduler, ids[i]);
    waiters_jobs_done(e->waiters, ids, n);
}

/* "p:<us>:<id>:<name>" (sql/005_claim_cursor.sql): new pending work. */
static void engine_on_pending(struct engine *e, const char *p)
{
    char *end = NULL;
    errno = 0;
    long long us = strtoll(p, &end, 10);
    if (end == p || *end != ':' || errno != 0)
        return;
    const char *q = end + 1;
    long long id = strtoll(q, &end, 10);
    if (end == q || *end != ':' || errno != 0)
        return;
    const char *name = end + 1;
    scheduler_heard(e->scheduler, name[0] ? name : NULL, strlen(name), us, id);
    /* The timer must not fire before the job is due: round up to the millisecond. */
    long long ms = us / 1000 + (us % 1000 > 0);
    scheduler_wake(e->scheduler, name[0] ? name : NULL, strlen(name), ms);
}

/* A notification on the schema's channel: new work ("p:", or "w:" from a daemon of an older
 * version) or final jobs ("c:"). */
static void engine_on_notify(void *arg, const char *channel, const char *payload)
{
    struct engine *e = arg;
    if (strncmp(payload, "p:", 2) == 0) {
        engine_on_pending(e, payload + 2);
    } else if (strncmp(payload, "w:", 2) == 0) {
        char *end = NULL;
        long long at = strtoll(payload + 2, &end, 10);
        if (end == payload + 2 || *end != ':')
            return;
        const char *name = end + 1;
        /* No place: drop the cursors of name. */
        scheduler_heard(e->scheduler, name[0] ? name : NULL, strlen(name), INT64_MIN, INT64_MIN);
        scheduler_wake(e->scheduler, name[0] ? name : NULL, strlen(name), at);
    } else if (strncmp(payload, "c:", 2) == 0) {
        engine_on_done_ids(e, payload + 2);
    } else if (strncmp(payload, "s:", 2) == 0) {
        schedtimer_rearm(e->schedtimer);
    }
}

/* The LISTEN session is up: notifications sent while it was down are lost, so catch up. */
static void engine_on_listen_ready(void *arg, bool reconnect)
{
    struct engine *e = arg;
    if (reconnect)
        log_info("LISTEN session re-established; catching up: claim now, re-check awaited jobs");
    if (e->stopping)
        return;
    scheduler_catch_up(e->scheduler);
    schedtimer_rearm(e->schedtimer);
    if (reconnect)
        waiters_recheck(e->waiters);
}

/* A store session ended; pgconn reconnects by itself. */
static void engine_on_down(void *arg, const char *why)
{
    log_warn("PostgreSQL session lost: %s; reconnecting (requests wait, bounded)", why);
}

/* While the work session is down, how often requests that arrived meanwhile are failed once
 * the outage has lasted unavailable_ms. */
#define ENGINE_OUTAGE_TICK_MS 250

/* ev_outage: the work session has been down for unavailable_ms (then every tick): answer what
 * waits for it with "unavailable" rather than keep it waiting through the outage. */
static void engine_on_outage(evutil_socket_t fd, short what, void *arg)
{
    struct engine *e = arg;
    if (e->db == NULL || pgconn_ready(e->db))
        return;
    if (!e->outage)
        log_warn("PostgreSQL unreachable for %u ms: requests get \"unavailable\" (retryable) "
                 "until it is back",
                 e->unavailable_ms);
    e->outage = true;
    char err[128];
    snprintf(err, sizeof(err), "PostgreSQL is unreachable (for more than %u ms)",
             e->unavailable_ms);
    pgconn_fail_waiting(e->db, err);
    struct timeval tv = {0, ENGINE_OUTAGE_TICK_MS * 1000};
    event_add(e->ev_outage, &tv);
}

/* The work session ended (or an attempt to open one failed): bound the wait of requests. */
static void engine_on_db_down(void *arg, const char *why)
{
    struct engine *e = arg;
    engine_on_down(arg, why);
    if (e->unavailable_ms == 0 || e->ev_outage == NULL || e->outage ||
        event_pending(e->ev_outage, EV_TIMEOUT, NULL))
        return;
    struct timeval tv = {e->unavailable_ms / 1000, (suseconds_t)(e->unavailable_ms % 1000) * 1000};
    event_add(e->ev_outage, &tv);
}

/* The work session is up. */
static void engine_on_db_ready(void *arg, bool reconnect)
{
    struct engine *e = arg;
    if (reconnect)
        log_info("PostgreSQL session re-established");
    if (e->ev_outage != NULL)
        event_del(e->ev_outage);
    e->outage = false;
    e->db_ready_once = true;
}

/* Handle the job requests kept while the storage booted. */
static void engine_replay_held(struct engine *e)
{
    struct conn *c, *next;
    for (c = TAILQ_FIRST(&e->server->conns); c != NULL; c = next) {
        next = TAILQ_NEXT(c, link);
        session_replay(c);
    }
}

/* True while the storage has not booted yet and no attempt failed. */
bool engine_booting(const struct engine *e)
{
    return e->db == NULL && !e->boot_failed && !e->stopping;
}

/* The storage is ready: connect, register the node, start the sweep. */
static void engine_on_boot(void *arg, const char *conninfo)
{
    struct engine *e = arg;
    if (e->stopping)
        return;
    if (conninfo == NULL) {
        e->boot_failed = true;
        engine_replay_held(e);
        return;
    }
    struct pgconn_config cfg = {
        .conninfo = conninfo,
        .schema = e->schema,
        .preps = stmts_table,
        .npreps = STMT_COUNT,
        .on_ready = engine_on_db_ready,
        .on_down = engine_on_db_down,
        .arg = e,
    };
    const char *channels[] = {e->schema};
    struct pgconn_config lcfg = {
        .conninfo = conninfo,
        .schema = e->schema,
        .channels = channels,
        .nchannels = 1,
        .on_ready = engine_on_listen_ready,
        .on_down = engine_on_down,
        .on_notify = engine_on_notify,
        .arg = e,
    };
    e->db = pgconn_new(e->base, &cfg);
    e->listen = e->db != NULL ? pgconn_new(e->base, &lcfg) : NULL;
    struct timeval tv = {e->sweep_ms / 1000, (suseconds_t)(e->sweep_ms % 1000) * 1000};
    /* The node row must exist before any claim names it; the pipeline keeps this order. */
    if (e->db == NULL || e->listen == NULL ||
        jobstore_node_beat(e->db, e->node, e->host, (int32_t)getpid(), engine_on_beat, e) !=
            PGCONN_OK ||
        event_add(e->ev_sweep, &tv) != 0) {
        log_error("out of memory starting the job engine; job requests stay unavailable");
        if (e->listen != NULL)
            pgconn_free(e->listen);
        if (e->db != NULL)
            pgconn_free(e->db);
        e->db = e->listen = NULL;
        return;
    }
    log_info("job engine ready: node %s serves jobs from schema \"%s\"", e->node_hex, e->schema);
    e->boot_failed = false;
    engine_replay_held(e);
}

/* Make the modules and start the storage boot. */
int engine_new(struct engine **out, struct server *s, const struct engine_opts *opts, char *err,
               size_t errlen)
{
    *out = NULL;
    struct engine *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    e->base = s->base;
    e->server = s;
    e->shutdown_grace_ms = opts->shutdown_grace_ms;
    e->sweep_ms = opts->heartbeat_ms != 0 ? opts->heartbeat_ms : ENGINE_SWEEP_MS;
    e->lapse_ms = opts->lease_ms != 0 ? opts->lease_ms : ENGINE_NODE_LAPSE_MS;
    e->retention_s = opts->retention_s;
    e->vacuum_warn_s = opts->vacuum_warn_s;
    e->unavailable_ms = opts->unavailable_ms;
    snprintf(e->node_hex, sizeof(e->node_hex), "%s", opts->node_hex);
    for (size_t i = 0; i < 16; i++) {
        int hi = engine_hex(opts->node_hex[2 * i]), lo = engine_hex(opts->node_hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            snprintf(err, errlen, "bad node id");
            free(e);
            return -1;
        }
        e->node[i] = (uint8_t)(hi << 4 | lo);
    }
    if (gethostname(e->host, sizeof(e->host) - 1) != 0)
        snprintf(e->host, sizeof(e->host), "unknown");

    e->enqueuer = enqueuer_new(e);
    e->completer = completer_new(e);
    e->scheduler = scheduler_new(e);
    e->waiters = waiters_new(e);
    e->gauges = gauges_new(e);
    e->schedtimer = schedtimer_new(e);
    e->ev_sweep = event_new(e->base, -1, EV_PERSIST, engine_on_sweep, e);
    e->ev_outage = evtimer_new(e->base, engine_on_outage, e);
    if (e->enqueuer == NULL || e->completer == NULL || e->scheduler == NULL || e->waiters == NULL ||
        e->schedtimer == NULL || e->gauges == NULL || e->ev_sweep == NULL || e->ev_outage == NULL)
        goto nomem;

    e->schema = strdup(opts->schema);
    if (e->schema == NULL)
        goto nomem;
    struct boot_opts bo = {
        .storage = opts->storage,
        .state_dir = opts->state_dir,
        .schema = opts->schema,
        .display = opts->display,
    };
    if (boot_start(&e->boot, e->base, &bo, engine_on_boot, e) != 0)
        goto nomem;
    *out = e;
    return 0;

nomem:
    snprintf(err, errlen, "out of memory starting the job engine");
    engine_free(e);
    return -1;
}

/* Route one job request. */
int engine_handle(struct engine *e, struct conn *c, const struct rs_msg *msg)
{
    if (e->stopping && msg->type != RS_MSG_ACK)
        return conn_send_error(c, msg->request_id, RS_E_SHUTTING_DOWN, true,
                               "the daemon is stopping");
    if (e->db == NULL && msg->type != RS_MSG_REGISTER)
        return conn_send_error(c, msg->request_id, RS_E_UNAVAILABLE, true,
                               "%s: the storage is not ready yet (starting or unreachable)",
                               rs_msg_type_name(msg->type));
    switch (msg->type) {
    case RS_MSG_ENQUEUE:
        return enqueuer_add(e->enqueuer, c, msg);
    case RS_MSG_REGISTER:
        return scheduler_register(e->scheduler, c, msg);
    case RS_MSG_ACK: {
        uint32_t fn = METRICS_MAX_FUNCTIONS;
        if (msg->u.ack.job <= INT64_MAX && msg->u.ack.attempt <= INT32_MAX)
            fn = scheduler_acked(e->scheduler, c, (int64_t)msg->u.ack.job,
                                 (int32_t)msg->u.ack.attempt,
                                 (msg->u.ack.has & RS_HAS_RELEASE) && msg->u.ack.release);
        int rc = completer_add(e->completer, c, msg, fn);
        engine_stop_check(e);
        return rc;
    }
    case RS_MSG_AWAIT:
        return waiters_await(e->waiters, c, msg);
    case RS_MSG_GET:
    case RS_MSG_CANCEL:
    case RS_MSG_RETRY:
    case RS_MSG_LIST:
        return jobops_handle(e, c, msg);
    case RS_MSG_SCHEDULE_PUT:
    case RS_MSG_SCHEDULE_GET:
    case RS_MSG_SCHEDULE_PAUSE:
    case RS_MSG_SCHEDULE_RESUME:
    case RS_MSG_SCHEDULE_DELETE:
    case RS_MSG_SCHEDULE_LIST:
        return schedops_handle(e, c, msg);
    default:
        return conn_send_error(c, msg->request_id, RS_E_INTERNAL, false, "%s is not a job request",
                               rs_msg_type_name(msg->type));
    }
}

/* A connection closes: nothing may refer to it afterwards. */
void engine_conn_closed(struct engine *e, struct conn *c)
{
    request_conn_closed(c);
    waiters_conn_closed(e->waiters, c);
    scheduler_conn_closed(e->scheduler, c);
}

/* Stopping is over (or took too long): hand back to the server. */
static void engine_stop_done(struct engine *e)
{
    if (e->stop_phase >= 3)
        return;
    e->stop_phase = 3;
    event_del(e->ev_stop);
    if (e->on_stopped != NULL)
        e->on_stopped(e->on_stopped_arg);
}

/* The node row is gone: the stop is complete. */
static void engine_on_node_gone(void *arg, size_t count, const struct jobstore_err *err)
{
    struct engine *e = arg;
    if (err != NULL)
        log_warn("removing the node row failed: %s; it is pruned later", err->message);
    engine_stop_done(e);
}

/* Running jobs are handed back: answer waiters, remove the node row. */
static void engine_on_released_all(void *arg)
{
    struct engine *e = arg;
    if (e->stop_phase >= 3)
        return;
    waiters_shutdown(e->waiters);
    if (jobstore_node_gone(e->db, e->node, engine_on_node_gone, e) != PGCONN_OK)
        engine_stop_done(e);
}

/* The grace ended (or nothing runs): release what still runs. */
static void engine_stop_release(struct engine *e)
{
    if (e->stop_phase != 1)
        return;
    e->stop_phase = 2;
    size_t n = scheduler_running(e->scheduler);
    if (n > 0)
        log_info("stop: %zu job(s) still running after the grace; sending ABANDON shutdown and "
                 "handing them back",
                 n);
    struct timeval tv = {ENGINE_STOP_HARD_MS / 1000, (ENGINE_STOP_HARD_MS % 1000) * 1000};
    if (evtimer_add(e->ev_stop, &tv) != 0)
        log_warn("cannot arm the stop deadline");
    scheduler_release_all(e->scheduler, engine_on_released_all, e);
}

/* ev_stop: the grace ended, or the release took too long. */
static void engine_on_stop_timer(evutil_socket_t fd, short what, void *arg)
{
    struct engine *e = arg;
    if (e->stop_phase == 1) {
        if (!completer_idle(e->completer)) {
            /* An outcome is on its way to PostgreSQL: release after it, not before, or the
             * release would hand back a job that just finished. */
            struct timeval soon = {0, 20 * 1000};
            if (evtimer_add(e->ev_stop, &soon) == 0)
                return;
        }
        engine_stop_release(e);
        return;
    }
    log_warn("stop: PostgreSQL did not answer within %d s; exiting anyway (other daemons "
             "reclaim this node's jobs after the lease)",
             ENGINE_STOP_HARD_MS / 1000);
    engine_stop_done(e);
}

/* The last running attempt ended during the grace. */
void engine_stop_check(struct engine *e)
{
    if (e->stop_phase == 1 && scheduler_running(e->scheduler) == 0 &&
        completer_idle(e->completer)) {
        log_info("stop: no job running any more; ending the grace early");
        engine_stop_release(e);
    }
}

/* Graceful stop. */
void engine_stop(struct engine *e, void (*on_stopped)(void *arg), void *arg)
{
    if (e->stopping)
        return;
    e->stopping = true;
    e->on_stopped = on_stopped;
    e->on_stopped_arg = arg;
    e->stop_phase = 1;
    scheduler_stop(e->scheduler);
    schedtimer_stop(e->schedtimer);
    event_del(e->ev_sweep);
    if (e->db == NULL) {
        /* Nothing ever ran here. */
        e->stop_phase = 3;
        if (on_stopped != NULL)
            on_stopped(arg);
        return;
    }
    e->ev_stop = evtimer_new(e->base, engine_on_stop_timer, e);
    if (e->ev_stop == NULL) {
        engine_stop_release(e);
        return;
    }
    size_t n = scheduler_running(e->scheduler);
    if (n == 0) {
        engine_stop_release(e);
        return;
    }
    log_info("stop: no more claims; %zu running job(s) get %u ms to finish", n,
             e->shutdown_grace_ms);
    struct timeval tv = {e->shutdown_grace_ms / 1000, (e->shutdown_grace_ms % 1000) * 1000};
    if (evtimer_add(e->ev_stop, &tv) != 0)
        engine_stop_release(e);
}

/* Release everything. The connections are closed already. */
void engine_free(struct engine *e)
{
    if (e == NULL)
        return;
    /* Their callbacks fire now, with errors, while the modules still exist. */
    if (e->db != NULL)
        pgconn_free(e->db);
    if (e->listen != NULL)
        pgconn_free(e->listen);
    /* Joins a boot in progress and stops the private cluster: after the sessions ended. */
    boot_free(e->boot);
    free(e->schema);
    enqueuer_free(e->enqueuer);
    completer_free(e->completer);
    waiters_free(e->waiters);
    gauges_free(e->gauges);
    scheduler_free(e->scheduler);
    schedtimer_free(e->schedtimer);
    if (e->ev_sweep != NULL)
        event_free(e->ev_sweep);
    if (e->ev_outage != NULL)
        event_free(e->ev_outage);
    if (e->ev_stop != NULL)
        event_free(e->ev_stop);
    free(e);
}
