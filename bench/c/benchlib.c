/*
 * What the C benchmarks share: the clock, statistics, the benchmark job and its worker
 * process, and readings of /proc.
 */
#include "benchlib.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int bench_samples_add(struct bench_samples *s, int64_t ns)
{
    if (s->n == s->cap) {
        size_t cap = s->cap == 0 ? 1024 : s->cap * 2;
        int64_t *v = realloc(s->v, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = ns;
    return 0;
}

void bench_samples_free(struct bench_samples *s)
{
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static int bench_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples, in ms. */
static double bench_pct_ms(const struct bench_samples *s, double p)
{
    size_t rank = (size_t)(p * (double)s->n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > s->n)
        rank = s->n;
    return (double)s->v[rank - 1] / 1e6;
}

void bench_samples_json(FILE *out, const char *name, struct bench_samples *s)
{
    if (s->n == 0) {
        fprintf(out, "\"%s\":{\"n\":0}", name);
        return;
    }
    qsort(s->v, s->n, sizeof(*s->v), bench_cmp_i64);
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += (double)s->v[i];
    fprintf(out,
            "\"%s\":{\"n\":%zu,\"p50_ms\":%.4f,\"p95_ms\":%.4f,\"p99_ms\":%.4f,"
            "\"mean_ms\":%.4f,\"max_ms\":%.4f}",
            name, s->n, bench_pct_ms(s, 0.50), bench_pct_ms(s, 0.95), bench_pct_ms(s, 0.99),
            sum / (double)s->n / 1e6, (double)s->v[s->n - 1] / 1e6);
}

static void bench_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t bench_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

void bench_args_encode(uint8_t out[BENCH_ARGS_LEN], int64_t t0)
{
    out[0] = 0x91; /* fixarray of 1 */
    out[1] = 0xcf; /* uint64 */
    bench_put_be64(out + 2, (uint64_t)t0);
}

int bench_result_decode(const uint8_t *p, size_t len, int64_t *started)
{
    if (p == NULL || len != 9 || p[0] != 0xcf)
        return -1;
    *started = (int64_t)bench_get_be64(p + 1);
    return 0;
}

struct rs_client *bench_connect(const char *socket, const char *name, unsigned max_inflight)
{
    struct rs_client_opts o;
    rs_client_opts_init(&o);
    o.name = name;
    o.max_inflight = max_inflight;
    struct rs_client *c = NULL;
    char *err = NULL;
    if (rs_client_connect(socket, &o, &c, &err) != RS_CLIENT_OK) {
        fprintf(stderr, "%s: cannot connect: %s\n", name, err != NULL ? err : "out of memory");
        free(err);
        exit(1);
    }
    return c;
}

/* ---- the worker process ---- */

static struct rs_client *volatile bench_worker_client;
/* A counter in memory shared with the worker processes (mapped before the first fork). */
static _Atomic uint64_t *bench_runs;

static void bench_worker_on_term(int sig)
{
    (void)sig;
    struct rs_client *c = bench_worker_client;
    if (c != NULL)
        rs_worker_stop(c);
}

/* The benchmark job: note when it started, return that as the result. */
static int bench_worker_handler(struct rs_job_ctx *job, void *user)
{
    (void)user;
    uint8_t r[9];
    r[0] = 0xcf;
    bench_put_be64(r + 1, (uint64_t)bench_now_ns());
    atomic_fetch_add_explicit(bench_runs, 1, memory_order_relaxed);
    if (rs_job_set_result(job, r, sizeof(r)) != RS_CLIENT_OK)
        return rs_job_set_error(job, true, "out of memory");
    return 0;
}

/* The child's life: connect, register, run until SIGTERM. Never returns. */
static void bench_worker_main(const char *socket, unsigned concurrency)
{
    struct rs_client *c = bench_connect(socket, "rsbench-worker", 0);
    if (rs_worker_register(c, BENCH_FN, bench_worker_handler, NULL) != RS_CLIENT_OK ||
        rs_worker_set_concurrency(c, concurrency) != RS_CLIENT_OK) {
        fprintf(stderr, "rsbench-worker: %s\n", rs_client_errmsg(c));
        _exit(1);
    }
    bench_worker_client = c;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = bench_worker_on_term;
    sigaction(SIGTERM, &sa, NULL);
    enum rs_client_status st = rs_worker_run(c);
    if (st != RS_CLIENT_OK)
        fprintf(stderr, "rsbench-worker: %s: %s\n", rs_client_status_name(st), rs_client_errmsg(c));
    bench_worker_client = NULL;
    rs_client_close(c);
    _exit(st == RS_CLIENT_OK ? 0 : 1);
}

pid_t bench_worker_start(const char *socket, unsigned concurrency, int *gate)
{
    if (bench_runs == NULL) {
        void *p = mmap(NULL, sizeof(*bench_runs), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            perror("rsbench: mmap");
            exit(1);
        }
        bench_runs = p;
    }
    int fds[2] = {-1, -1};
    if (gate != NULL && pipe(fds) != 0) {
        perror("rsbench: pipe");
        exit(1);
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("rsbench: fork");
        exit(1);
    }
    if (pid == 0) {
        if (gate != NULL) {
            close(fds[1]);
            char b;
            while (read(fds[0], &b, 1) < 0 && errno == EINTR)
                ;
            close(fds[0]);
        }
        bench_worker_main(socket, concurrency);
    }
    if (gate != NULL) {
        close(fds[0]);
        *gate = fds[1];
    }
    return pid;
}

uint64_t bench_worker_runs(void)
{
    return bench_runs != NULL ? atomic_load_explicit(bench_runs, memory_order_relaxed) : 0;
}

void bench_worker_open(int gate)
{
    /* A byte or the end of the pipe: either wakes the worker. */
    (void)!write(gate, "g", 1);
    close(gate);
}

int bench_worker_stop(pid_t pid)
{
    kill(pid, SIGTERM);
    int status = 0;
    /* A worker that does not stop within 10 s is killed: a benchmark must end. */
    for (int i = 0; i < 1000; i++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (r < 0 && errno != EINTR)
            return -1;
        usleep(10000);
    }
    fprintf(stderr, "rsbench: the worker did not stop in 10 s; killing it\n");
    kill(pid, SIGKILL);
    (void)waitpid(pid, &status, 0);
    return -1;
}

/* ---- /proc ---- */

long bench_proc_status_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t flen = strlen(field);
    long kb = -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
            kb = strtol(line + flen + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

/* Read /proc/PID/stat: the parent's pid into ppid (may be NULL) and utime + stime. Returns
 * -1 if the process is gone. */
static long long bench_proc_stat(const char *pid, pid_t *ppid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%s/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *open = strchr(buf, '('), *close = strrchr(buf, ')');
    if (open == NULL || close == NULL || close < open)
        return -1;
    /* After ") ": state(3) ppid(4) ... utime(14) stime(15); field 3 is the first. */
    char *p = close + 2;
    unsigned long long utime = 0, stime = 0;
    for (int field = 3; field <= 15 && *p != '\0'; field++) {
        char *end = strchr(p, ' ');
        if (field == 4 && ppid != NULL)
            *ppid = (pid_t)strtol(p, NULL, 10);
        if (field == 14)
            utime = strtoull(p, NULL, 10);
        if (field == 15)
            stime = strtoull(p, NULL, 10);
        if (end == NULL)
            break;
        p = end + 1;
    }
    return (long long)(utime + stime);
}

long long bench_proc_cpu_ticks(pid_t pid)
{
    char s[32];
    snprintf(s, sizeof(s), "%d", (int)pid);
    return bench_proc_stat(s, NULL);
}

long long bench_tree_cpu_ticks(pid_t root)
{
    DIR *d = opendir("/proc");
    if (d == NULL)
        return -1;
    long long sum = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        pid_t ppid = 0;
        long long t = bench_proc_stat(de->d_name, &ppid);
        if (t >= 0 && (ppid == root || (pid_t)atoi(de->d_name) == root))
            sum += t;
    }
    closedir(d);
    return sum;
}

long long bench_sys_busy_ticks(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL)
        return -1;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 4)
        return -1;
    /* user nice system idle iowait irq softirq steal */
    return (long long)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);
}

double bench_self_cpu_s(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
           (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

unsigned long bench_parse_ulong(const char *opt, const char *s, unsigned long min,
                                unsigned long max)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "rsbench: %s wants a number in %lu..%lu, not '%s'\n", opt, min, max, s);
        exit(2);
    }
    return v;
}
