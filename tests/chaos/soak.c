/*
 * The soak: N jobs (default 10,000) through random worker SIGKILLs, one daemon SIGKILL and one
 * PostgreSQL restart; then every job must be final (success), none lost (the rows are exactly
 * the enqueued keys), no attempt dispatched twice, only the final attempt's ACK accepted, and
 * every execution other than the final one explained: the daemons' logs must show how that
 * attempt's lease was taken back (released when its worker's connection closed, reclaimed
 * from a lapsed node, or timed out). Run by tests/chaos/soak and by meson (suite soak) under
 * with-postgres; prints the numbers; exit 0 when everything holds.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chaos.h"
#include "daemon_proc.h"
#include "pgtest.h"

#define WORKERS 4
#define MAXLOGS 512
/* Attempts of a soak job: enough that no job dies of the kills, so every job must succeed. */
#define SOAK_MAX_ATTEMPTS 50

/* How each attempt's lease was taken back, from the daemons' logs: bit a-1 of each mask for
 * attempt a of a job. */
struct lease_ends {
    uint64_t *released, *reclaimed, *timed_out;
    long n;
};

/* Record every "job J attempt A released|reclaimed|timed out" line of log. */
static void soak_scan(struct lease_ends *le, const char *log)
{
    for (const char *p = log; p != NULL && (p = strstr(p, "] info: job ")) != NULL; p++) {
        long long job, attempt;
        char what[16];
        if (sscanf(p, "] info: job %lld attempt %lld %15s", &job, &attempt, what) != 3 || job < 1 ||
            job > le->n || attempt < 1 || attempt > 64)
            continue;
        uint64_t bit = UINT64_C(1) << (attempt - 1);
        if (strcmp(what, "released") == 0)
            le->released[job] |= bit;
        else if (strcmp(what, "reclaimed") == 0)
            le->reclaimed[job] |= bit;
        else if (strcmp(what, "timed") == 0)
            le->timed_out[job] |= bit;
    }
}

/* Append what d logged so far to *all (the log of a daemon that is gone, or stopping). */
static void soak_keep_log(char **all, size_t *len, struct daemon_proc *d)
{
    pthread_mutex_lock(&d->mu);
    size_t n = d->log_len;
    char *grown = realloc(*all, *len + n + 1);
    if (grown != NULL) {
        memcpy(grown + *len, d->log != NULL ? d->log : "", n);
        *len += n;
        grown[*len] = '\0';
        *all = grown;
    }
    pthread_mutex_unlock(&d->mu);
}

struct producer {
    const char *socket;
    long n, done;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    p->done = chaos_produce(p->socket, "soak", "s-", 0, p->n, 30000, NULL, 600000);
    return NULL;
}

static int start(struct daemon_proc *d, const char *db)
{
    const char *args[] = {
        "--storage",        db,     "--heartbeat-ms", "200",  "--lease-ms", "1500",
        "--unavailable-ms", "2000", "--log-level",    "info", NULL};
    struct daemon_opts o = {.args = args};
    if (daemon_proc_start(d, &o) != 0 || !daemon_proc_wait_log(d, "job engine ready", 60000))
        return -1;
    return 0;
}

static int cmp(const void *a, const void *b)
{
    const struct chaos_exec *x = a, *y = b;
    if (x->job != y->job)
        return x->job < y->job ? -1 : 1;
    if (x->attempt != y->attempt)
        return x->attempt < y->attempt ? -1 : 1;
    return x->kind - y->kind;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000;
    unsigned seed = (unsigned)time(NULL);
    srand(seed);
    printf("soak: %ld jobs, seed %u\n", n, seed);
    chaos_set_max_attempts(SOAK_MAX_ATTEMPTS);
    char *dlogs = NULL; /* every daemon's log, the killed one's first */
    size_t dlogs_len = 0;
    char *db = pgtest_create_db("soak");
    struct daemon_proc d;
    if (db == NULL || daemon_proc_init(&d) != 0 || start(&d, db) != 0) {
        fprintf(stderr, "soak: cannot start\n");
        return 1;
    }
    char logs[MAXLOGS][256];
    pid_t pids[WORKERS];
    pid_t killed[MAXLOGS];
    int nlogs = 0, nkilled = 0;
    for (int i = 0; i < WORKERS; i++) {
        snprintf(logs[nlogs], sizeof(logs[0]), "%s/w%d.log", d.dir, nlogs);
        pids[i] = chaos_worker(d.socket, "soak", 8, CHAOS_WORK, logs[nlogs++]);
    }
    struct producer p = {.socket = d.socket, .n = n};
    pthread_t th;
    pthread_create(&th, NULL, produce, &p);
    int64_t t0 = chaos_now_ms();
    bool daemon_killed = false, pg_restarted = false;
    long long ok = 0;
    while (chaos_now_ms() - t0 < 900000) {
        ok = chaos_sql_int(db, "SELECT count(*) FROM reseolio.jobs WHERE status = 'success'");
        if (ok == n)
            break;
        /* The pace of the chaos: something every 300 ms. */
        struct timespec ts = {0, 300 * 1000000L};
        nanosleep(&ts, NULL);
        if (!daemon_killed && ok > n * 3 / 10) {
            printf("soak: SIGKILL the daemon at %lld jobs done\n", ok);
            daemon_proc_kill(&d);
            soak_keep_log(&dlogs, &dlogs_len, &d);
            if (start(&d, db) != 0) {
                fprintf(stderr, "soak: the daemon did not restart\n");
                return 1;
            }
            daemon_killed = true;
        } else if (!pg_restarted && ok > n * 6 / 10) {
            printf("soak: restart PostgreSQL at %lld jobs done\n", ok);
            if (pgtest_restart() != 0)
                return 1;
            pg_restarted = true;
        } else if (rand() % 3 == 0 && nlogs < MAXLOGS) {
            int i = rand() % WORKERS;
            chaos_kill(pids[i]);
            killed[nkilled++] = pids[i];
            snprintf(logs[nlogs], sizeof(logs[0]), "%s/w%d.log", d.dir, nlogs);
            pids[i] = chaos_worker(d.socket, "soak", 8, CHAOS_WORK, logs[nlogs++]);
        }
    }
    pthread_join(th, NULL);
    for (int i = 0; i < WORKERS; i++)
        chaos_kill(pids[i]);
    int64_t took = chaos_now_ms() - t0;
    int bad = 0;
    long long rows = chaos_sql_int(db, "SELECT count(*) FROM reseolio.jobs");
    long long notfinal = chaos_sql_int(
        db, "SELECT count(*) FROM reseolio.jobs WHERE status NOT IN ('success', 'dead', "
            "'cancelled')");
    long long success = chaos_sql_int(db, "SELECT count(*) FROM reseolio.jobs WHERE status = "
                                          "'success'");
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(DISTINCT idem_key) FROM reseolio.jobs WHERE name = 'soak' AND "
             "idem_key ~ '^s-[0-9]{1,9}$' AND substr(idem_key, 3)::bigint < %ld",
             n);
    long long keys = chaos_sql_int(db, sql);
    /* Ids need not be 1..n (an insert that meets an existing key may still use a sequence
     * value): everything below is indexed by id up to the largest. */
    long long maxid = chaos_sql_int(db, "SELECT coalesce(max(id), 0) FROM reseolio.jobs");
    if (maxid < 0)
        maxid = 0;
    long long reruns = chaos_sql_int(db, "SELECT count(*) FROM reseolio.jobs WHERE attempt > 1");
    long long attempts = chaos_sql_int(db, "SELECT sum(attempt) FROM reseolio.jobs");
    printf("soak: %ld jobs enqueued (%ld answered), %lld rows, %lld success, %lld not final, "
           "%d worker kills, daemon killed %d, PostgreSQL restarted %d, %lld ms\n",
           n, p.done, rows, success, notfinal, nkilled, daemon_killed, pg_restarted,
           (long long)took);
    if (rows != n || success != n || notfinal != 0 || p.done != n || keys != n) {
        printf("soak: FAIL: lost or not final (%lld distinct enqueued keys among the rows)\n",
               keys);
        bad++;
    }
    /* The daemon's lease ends, from the logs of both daemon runs. */
    daemon_proc_stop(&d);
    soak_keep_log(&dlogs, &dlogs_len, &d);
    struct lease_ends le = {.n = maxid};
    le.released = calloc((size_t)maxid + 1, sizeof(uint64_t));
    le.reclaimed = calloc((size_t)maxid + 1, sizeof(uint64_t));
    le.timed_out = calloc((size_t)maxid + 1, sizeof(uint64_t));
    soak_scan(&le, dlogs);
    /* Every execution of every worker, sorted by job and attempt. */
    struct chaos_exec *all = NULL;
    size_t nall = 0;
    for (int l = 0; l < nlogs; l++) {
        struct chaos_exec *v;
        long k = chaos_read_log(logs[l], &v);
        if (k < 0)
            continue;
        all = realloc(all, (nall + (size_t)k + 1) * sizeof(*all));
        memcpy(all + nall, v, (size_t)k * sizeof(*v));
        nall += (size_t)k;
        free(v);
    }
    qsort(all, nall, sizeof(*all), cmp);
    long execs = 0, dup_execs = 0, dup_by_killed_worker = 0, twice = 0, acks_ok = 0;
    long by_release = 0, by_reclaim = 0, by_timeout = 0, unexplained = 0, never_ran = 0;
    PGconn *c = PQconnectdb(db);
    PGresult *res = PQexec(c, "SELECT id, attempt FROM reseolio.jobs ORDER BY id");
    int nrows = PQntuples(res);
    long long *final_attempt = malloc(((size_t)maxid + 1) * sizeof(long long));
    for (long long id = 0; id <= maxid; id++)
        final_attempt[id] = -1; /* no such row */
    for (int i = 0; i < nrows; i++) {
        long long id = atoll(PQgetvalue(res, i, 0));
        if (id >= 1 && id <= maxid)
            final_attempt[id] = atoll(PQgetvalue(res, i, 1));
    }
    PQclear(res);
    PQfinish(c);
    for (size_t i = 0; i < nall; i++) {
        const struct chaos_exec *e = &all[i];
        bool known = e->job >= 1 && e->job <= maxid;
        long long fin = known ? final_attempt[e->job] : -1;
        if (e->kind == 'E') {
            execs++;
            if (i > 0 && all[i - 1].kind == 'E' && all[i - 1].job == e->job &&
                all[i - 1].attempt == e->attempt)
                twice++; /* one attempt dispatched twice: the fence failed */
            if (e->attempt > fin)
                twice++;
            if (known && e->attempt < fin) {
                dup_execs++; /* superseded: a later attempt exists, so this lease was taken */
                for (int k = 0; k < nkilled; k++)
                    if (killed[k] == e->pid)
                        dup_by_killed_worker++, k = nkilled;
                uint64_t bit =
                    e->attempt >= 1 && e->attempt <= 64 ? UINT64_C(1) << (e->attempt - 1) : 0;
                if ((le.released[e->job] & bit) != 0)
                    by_release++;
                else if ((le.reclaimed[e->job] & bit) != 0)
                    by_reclaim++;
                else if ((le.timed_out[e->job] & bit) != 0)
                    by_timeout++;
                else {
                    if (unexplained++ < 10)
                        printf("soak: job %lld attempt %lld ran (pid %d) and was superseded, "
                               "but no daemon released, reclaimed or timed it out\n",
                               (long long)e->job, (long long)e->attempt, e->pid);
                }
            }
        } else if (e->kind == 'S') {
            acks_ok++;
            if (e->attempt != fin) {
                printf("soak: job %lld: ACK of attempt %lld accepted, final attempt %lld\n",
                       (long long)e->job, (long long)e->attempt, fin);
                bad++;
            }
        }
    }
    /* Every job's final attempt ran somewhere (a success nobody executed would be a bug). */
    for (long long id = 1; id <= maxid; id++) {
        if (final_attempt[id] < 0)
            continue;
        struct chaos_exec key = {.job = id, .attempt = final_attempt[id], .kind = 'E'};
        bool ran = nall > 0 && bsearch(&key, all, nall, sizeof(*all), cmp) != NULL;
        if (!ran && never_ran++ < 10)
            printf("soak: job %lld: no worker recorded running its final attempt %lld\n", id,
                   final_attempt[id]);
    }
    printf("soak: superseded executions explained: %ld released (worker gone), %ld reclaimed "
           "(lapsed node), %ld timed out; %ld unexplained; %ld final attempts never seen run; "
           "daemon logs %zu bytes\n",
           by_release, by_reclaim, by_timeout, unexplained, never_ran, dlogs_len);
    if (unexplained != 0 || never_ran != 0)
        bad++;
    printf("soak: %ld executions for %ld jobs (%lld attempts in the table: an attempt whose "
           "worker died before starting it never ran), %ld superseded executions (%ld of them "
           "by workers killed at some point), %lld jobs dispatched more than once, %ld attempts "
           "dispatched twice, %ld ACKs seen accepted\n",
           execs, n, attempts, dup_execs, dup_by_killed_worker, reruns, twice, acks_ok);
    if (twice != 0)
        bad++;
    free(all);
    free(final_attempt);
    free(le.released);
    free(le.reclaimed);
    free(le.timed_out);
    free(dlogs);
    daemon_proc_cleanup(&d);
    free(db);
    printf("soak: %s\n", bad == 0 ? "PASS" : "FAIL");
    return bad == 0 ? 0 : 1;
}
