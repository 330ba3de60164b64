/*
 * The soak: N jobs (default 10,000) through random worker SIGKILLs, one daemon SIGKILL and one
 * PostgreSQL restart; then every job must be final, none lost, and every execution beyond the
 * last must belong to an attempt whose lease was taken back (the fence: attempt numbers are
 * never dispatched twice, and only the final attempt's ACK stands). Run by tests/chaos/soak
 * under with-postgres; prints the numbers; exit 0 when everything holds.
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
    srand((unsigned)time(NULL));
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
    long long reruns = chaos_sql_int(db, "SELECT count(*) FROM reseolio.jobs WHERE attempt > 1");
    long long attempts = chaos_sql_int(db, "SELECT sum(attempt) FROM reseolio.jobs");
    printf("soak: %ld jobs enqueued (%ld answered), %lld rows, %lld success, %lld not final, "
           "%d worker kills, daemon killed %d, PostgreSQL restarted %d, %lld ms\n",
           n, p.done, rows, success, notfinal, nkilled, daemon_killed, pg_restarted,
           (long long)took);
    if (rows != n || success != n || notfinal != 0 || p.done != n)
        bad++;
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
    PGconn *c = PQconnectdb(db);
    PGresult *res = PQexec(c, "SELECT id, attempt FROM reseolio.jobs ORDER BY id");
    int nrows = PQntuples(res);
    long long *final_attempt = calloc((size_t)n + 2, sizeof(long long));
    for (int i = 0; i < nrows; i++) {
        long long id = atoll(PQgetvalue(res, i, 0));
        if (id >= 0 && id <= n + 1)
            final_attempt[id] = atoll(PQgetvalue(res, i, 1));
    }
    PQclear(res);
    PQfinish(c);
    for (size_t i = 0; i < nall; i++) {
        const struct chaos_exec *e = &all[i];
        long long fin = e->job <= n + 1 ? final_attempt[e->job] : -1;
        if (e->kind == 'E') {
            execs++;
            if (i > 0 && all[i - 1].kind == 'E' && all[i - 1].job == e->job &&
                all[i - 1].attempt == e->attempt)
                twice++; /* one attempt dispatched twice: the fence failed */
            if (e->attempt > fin)
                twice++;
            if (e->attempt < fin) {
                dup_execs++; /* superseded: a later attempt exists, so this lease was taken */
                for (int k = 0; k < nkilled; k++)
                    if (killed[k] == e->pid)
                        dup_by_killed_worker++, k = nkilled;
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
    printf("soak: %ld executions for %ld jobs (%lld attempts in the table), %ld superseded "
           "executions (%ld in killed workers, %ld by the daemon kill, PostgreSQL restart or "
           "timeouts), %lld jobs run more than once, %ld attempts dispatched twice, %ld ACKs "
           "accepted\n",
           execs, n, attempts, dup_execs, dup_by_killed_worker, dup_execs - dup_by_killed_worker,
           reruns, twice, acks_ok);
    if (twice != 0)
        bad++;
    free(all);
    free(final_attempt);
    daemon_proc_stop(&d);
    daemon_proc_cleanup(&d);
    free(db);
    printf("soak: %s\n", bad == 0 ? "PASS" : "FAIL");
    return bad == 0 ? 0 : 1;
}
