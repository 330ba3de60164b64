/*
 * rsbench-throughput: jobs per second through enqueue -> run -> committed result, with every
 * result awaited and up to --window jobs in flight at once (pipelined non-blocking calls: each
 * AWAIT is sent from its ENQUEUED callback, each finished job makes room for the next). The
 * worker is another process. Also samples the daemon's RSS while the window is full and
 * counts the CPU time of everyone involved. Prints one JSON object.
 */
#include <getopt.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchlib.h"

/* How often the daemon's RSS is sampled. */
#define TP_SAMPLE_NS 20000000
/* --hold: quiet time after the last AWAIT or refusal before the AWAITs count as registered. */
#define TP_SETTLE_NS 300000000

/* How long a request the daemon refused as retryable waits before it is sent again. */
#define TP_RETRY_NS 10000000

/* A request to send later: an AWAIT that did not fit in the client's queue, or one the daemon
 * answered with a retryable error (job != 0), or an ENQUEUE it refused that way (job == 0). */
struct tp_held {
    uint32_t idx;
    uint64_t job;
    int64_t not_before;
};

/* One run. Static: the callbacks find it without an allocation per call. */
static struct tp {
    struct rs_client *c;
    unsigned long jobs, window;
    unsigned long started, done, failed, retries;
    unsigned long enqueued;     /* ENQUEUEs answered with a job id */
    int gate;                   /* --hold: the worker's gate while closed, else -1 */
    int64_t last_change_ns;     /* --hold: the last AWAIT sent or request refused */
    int64_t t_open;             /* --hold: when the gate opened */
    bool no_await;              /* --no-await: count handler runs instead of results */
    uint64_t runs_base;         /* --no-await: bench_worker_runs() when the run began */
    unsigned long enq_failed;   /* jobs that failed (with --no-await: never enqueued) */
    int64_t *t0;                /* per job: when it was called */
    uint64_t *job;              /* per job: its id once enqueued */
    struct tp_held *held, *due; /* at most one per job in flight: window entries each */
    size_t nheld;
    struct bench_samples rt;
    bool measure, broken;
} tp;

static void tp_hold(uint32_t idx, uint64_t job, int64_t delay_ns)
{
    int64_t now = bench_now_ns();
    tp.held[tp.nheld++] = (struct tp_held){idx, job, now + delay_ns};
    if (delay_ns > 0)
        tp.last_change_ns = now;
}

/* A job that will not finish. */
static void tp_fail(const char *what, const char *why)
{
    tp.done++;
    tp.enq_failed++;
    if (tp.failed++ < 5)
        fprintf(stderr, "rsbench-throughput: %s: %s\n", what, why);
}

static void tp_on_completed(struct rs_client *c, const struct rs_reply *r, void *arg)
{
    (void)c;
    uint32_t idx = (uint32_t)(uintptr_t)arg;
    if (r->status != RS_CLIENT_OK) {
        /* A client would wait and ask again; the bench does, and counts it. */
        if (r->retryable && r->status == RS_CLIENT_E_SERVER) {
            tp.retries++;
            tp_hold(idx, tp.job[idx], TP_RETRY_NS);
            return;
        }
        tp_fail("await failed", r->error);
        return;
    }
    if (r->completion->status != RS_JOB_SUCCESS) {
        tp_fail("job ended", rs_job_status_name(r->completion->status));
        return;
    }
    tp.done++;
    if (tp.measure && bench_samples_add(&tp.rt, bench_now_ns() - tp.t0[idx]) != 0)
        tp.broken = true;
}

/* Send the AWAIT of a durable job, or hold it until the client has room. */
static void tp_await(uint32_t idx, uint64_t job)
{
    enum rs_client_status st =
        rs_await_async(tp.c, job, 120000, tp_on_completed, (void *)(uintptr_t)idx);
    if (st == RS_CLIENT_OK) {
        tp.last_change_ns = bench_now_ns();
        return;
    }
    if (st == RS_CLIENT_E_LIMIT) {
        tp_hold(idx, job, 0);
        return;
    }
    fprintf(stderr, "rsbench-throughput: await: %s\n", rs_client_errmsg(tp.c));
    tp.broken = true;
}

static void tp_on_enqueued(struct rs_client *c, const struct rs_reply *r, void *arg)
{
    (void)c;
    uint32_t idx = (uint32_t)(uintptr_t)arg;
    if (r->status != RS_CLIENT_OK) {
        if (r->retryable && r->status == RS_CLIENT_E_SERVER) {
            tp.retries++;
            tp_hold(idx, 0, TP_RETRY_NS);
            return;
        }
        tp_fail("enqueue failed", r->error);
        return;
    }
    tp.job[idx] = r->enqueued->job;
    tp.enqueued++;
    if (!tp.no_await)
        tp_await(idx, r->enqueued->job);
}

/* Send job idx's ENQUEUE. Returns false when the client has no room now. */
static bool tp_enqueue(uint32_t idx)
{
    uint8_t args[BENCH_ARGS_LEN];
    bench_args_encode(args, tp.t0[idx]);
    enum rs_client_status st = rs_enqueue_async(tp.c, BENCH_FN, args, sizeof(args), NULL,
                                                tp_on_enqueued, (void *)(uintptr_t)idx);
    if (st == RS_CLIENT_OK)
        return true;
    if (st != RS_CLIENT_E_LIMIT) {
        fprintf(stderr, "rsbench-throughput: enqueue: %s\n", rs_client_errmsg(tp.c));
        tp.broken = true;
    }
    return false;
}

/* Fill the window: held requests that are due first, then new jobs. */
static void tp_top_up(void)
{
    int64_t now = bench_now_ns();
    size_t keep = 0, ndue = 0;
    for (size_t i = 0; i < tp.nheld; i++) {
        if (tp.held[i].not_before <= now)
            tp.due[ndue++] = tp.held[i];
        else
            tp.held[keep++] = tp.held[i];
    }
    tp.nheld = keep;
    /* Sending may hold a request again: it goes back to tp.held. */
    for (size_t i = 0; i < ndue && !tp.broken; i++) {
        if (tp.due[i].job != 0)
            tp_await(tp.due[i].idx, tp.due[i].job);
        else if (!tp_enqueue(tp.due[i].idx))
            tp_hold(tp.due[i].idx, 0, 0);
    }
    while (!tp.broken && tp.started < tp.jobs && tp.started - tp.done < tp.window) {
        uint32_t idx = (uint32_t)tp.started;
        tp.t0[idx] = bench_now_ns();
        if (!tp_enqueue(idx))
            break;
        tp.started++;
    }
}

/* The daemon's memory while jobs are in flight: the largest RSS seen and the window then;
 * with --hold, the RSS with every job enqueued and awaited, before the worker started. */
struct tp_mem {
    pid_t daemon;
    long rss_peak_kb;
    unsigned long inflight_at_peak;
    long rss_held_kb;
    unsigned long held;
};

/* --hold: once every job is enqueued and its AWAIT registered, note the memory and let the
 * worker in. */
static void tp_maybe_open(struct tp_mem *mem)
{
    int64_t now = bench_now_ns();
    if (tp.gate < 0 || tp.enqueued < tp.jobs || tp.nheld > 0 ||
        now - tp.last_change_ns < TP_SETTLE_NS)
        return;
    if (mem != NULL && mem->daemon > 0) {
        mem->rss_held_kb = bench_proc_status_kb(mem->daemon, "VmRSS");
        mem->held = tp.started - tp.done;
    }
    bench_worker_open(tp.gate);
    tp.gate = -1;
    tp.t_open = bench_now_ns();
}

/* Run jobs through with the window full until all are done. Returns 0, or -1. */
static int tp_run(unsigned long jobs, bool measure, struct tp_mem *mem)
{
    tp.jobs = jobs;
    tp.started = tp.done = tp.failed = tp.retries = tp.enqueued = tp.enq_failed = 0;
    tp.runs_base = bench_worker_runs();
    tp.nheld = 0;
    tp.measure = measure;
    int64_t next_sample = bench_now_ns();
    while (tp.done < tp.jobs && !tp.broken) {
        tp_top_up();
        short events = POLLIN;
        if (rs_client_want_write(tp.c))
            events |= POLLOUT;
        struct pollfd pfd = {.fd = rs_client_fd(tp.c), .events = events};
        /* Without AWAITs nothing on the socket says a job finished: look often. */
        int n = poll(&pfd, 1, tp.no_await ? 1 : 20);
        if (n > 0) {
            enum rs_client_status st = rs_client_process(tp.c, pfd.revents);
            if (st != RS_CLIENT_OK) {
                fprintf(stderr, "rsbench-throughput: %s\n", rs_client_errmsg(tp.c));
                return -1;
            }
        }
        if (mem != NULL && mem->daemon > 0 && bench_now_ns() >= next_sample) {
            long rss = bench_proc_status_kb(mem->daemon, "VmRSS");
            if (rss > mem->rss_peak_kb) {
                mem->rss_peak_kb = rss;
                mem->inflight_at_peak = tp.started - tp.done;
            }
            next_sample = bench_now_ns() + TP_SAMPLE_NS;
        }
        tp_maybe_open(mem);
        if (tp.no_await)
            tp.done = tp.enq_failed + (unsigned long)(bench_worker_runs() - tp.runs_base);
    }
    return tp.broken ? -1 : 0;
}

static void usage(FILE *to)
{
    fprintf(to, "usage: rsbench-throughput [--socket PATH] [--jobs N] [--window N]\n"
                "                          [--concurrency N] [--warmup N] [--daemon-pid PID]\n"
                "                          [--pg-pid PID] [--workers N] [--hold] [--no-await]\n"
                "                          [--label TEXT]\n"
                "  --workers N  worker processes, each with --concurrency slots (default 1)\n"
                "  --hold  start the worker only once all --jobs are enqueued and awaited\n"
                "          (implies --warmup 0; the rate is then the drain of that backlog)\n"
                "  --no-await  send no AWAIT: a job counts as done when its handler ran\n"
                "              (the cost of awaiting, by difference; not the headline figure)\n");
}

int main(int argc, char **argv)
{
    const char *socket = NULL, *label = "";
    unsigned long jobs = 20000, window = 1000, concurrency = 128, warmup = 2000;
    pid_t daemon = 0, postmaster = 0;
    bool hold = false;
    unsigned long nworkers = 1;
    static const struct option longopts[] = {
        {"hold", no_argument, NULL, 'H'},
        {"no-await", no_argument, NULL, 'A'},
        {"workers", required_argument, NULL, 'k'},
        {"pg-pid", required_argument, NULL, 'P'},
        {"socket", required_argument, NULL, 's'},
        {"jobs", required_argument, NULL, 'n'},
        {"window", required_argument, NULL, 'W'},
        {"concurrency", required_argument, NULL, 'c'},
        {"warmup", required_argument, NULL, 'w'},
        {"daemon-pid", required_argument, NULL, 'p'},
        {"label", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 's':
            socket = optarg;
            break;
        case 'n':
            jobs = bench_parse_ulong("--jobs", optarg, 1, 100000000);
            break;
        case 'W':
            window = bench_parse_ulong("--window", optarg, 1, 100000);
            break;
        case 'c':
            concurrency = bench_parse_ulong("--concurrency", optarg, 1, 256);
            break;
        case 'w':
            warmup = bench_parse_ulong("--warmup", optarg, 0, 100000000);
            break;
        case 'p':
            daemon = (pid_t)bench_parse_ulong("--daemon-pid", optarg, 1, 1u << 30);
            break;
        case 'l':
            label = optarg;
            break;
        case 'H':
            hold = true;
            break;
        case 'A':
            tp.no_await = true;
            break;
        case 'k':
            nworkers = bench_parse_ulong("--workers", optarg, 1, 16);
            break;
        case 'P':
            postmaster = (pid_t)bench_parse_ulong("--pg-pid", optarg, 1, 1u << 30);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }

    if (hold) {
        warmup = 0;
        window = jobs;
    }
    tp.gate = -1;
    if (hold)
        nworkers = 1;
    pid_t workers[16];
    for (unsigned long i = 0; i < nworkers; i++)
        workers[i] = bench_worker_start(socket, (unsigned)concurrency, hold ? &tp.gate : NULL);
    /* Every job of the window has one request in flight (its ENQUEUE or its AWAIT). */
    tp.c = bench_connect(socket, "rsbench-throughput", (unsigned)(window + 16));
    tp.window = window;
    unsigned long most = jobs > warmup ? jobs : warmup;
    tp.t0 = calloc(most, sizeof(*tp.t0));
    tp.job = calloc(most, sizeof(*tp.job));
    tp.held = calloc(window + 1, sizeof(*tp.held));
    tp.due = calloc(window + 1, sizeof(*tp.due));
    if (tp.t0 == NULL || tp.job == NULL || tp.held == NULL || tp.due == NULL) {
        fprintf(stderr, "rsbench-throughput: out of memory\n");
        return 1;
    }

    int status = 0;
    if (warmup > 0 && tp_run(warmup, false, NULL) != 0)
        status = 1;
    unsigned long warmup_failed = tp.failed, warmup_retries = tp.retries;
    struct tp_mem mem = {.daemon = daemon, .rss_peak_kb = -1, .rss_held_kb = -1};
    long rss_before = daemon > 0 ? bench_proc_status_kb(daemon, "VmRSS") : -1;
    long long d0 = daemon > 0 ? bench_proc_cpu_ticks(daemon) : -1;
    long long pg0 = postmaster > 0 ? bench_tree_cpu_ticks(postmaster) : -1;
    long long sys0 = bench_sys_busy_ticks();
    long long w0 = 0, w1 = 0;
    for (unsigned long i = 0; i < nworkers; i++)
        w0 += bench_proc_cpu_ticks(workers[i]);
    double self0 = bench_self_cpu_s();
    int64_t t_start = bench_now_ns();
    if (status == 0 && tp_run(jobs, true, &mem) != 0)
        status = 1;
    int64_t t_end = bench_now_ns();
    long long d1 = daemon > 0 ? bench_proc_cpu_ticks(daemon) : -1;
    long long pg1 = postmaster > 0 ? bench_tree_cpu_ticks(postmaster) : -1;
    long long sys1 = bench_sys_busy_ticks();
    for (unsigned long i = 0; i < nworkers; i++)
        w1 += bench_proc_cpu_ticks(workers[i]);
    double self1 = bench_self_cpu_s();
    unsigned long failed = tp.failed, retries = tp.retries;
    rs_client_close(tp.c);
    for (unsigned long i = 0; i < nworkers; i++)
        if (bench_worker_stop(workers[i]) != 0)
            fprintf(stderr, "rsbench-throughput: a worker did not stop cleanly\n");
    long hwm = daemon > 0 ? bench_proc_status_kb(daemon, "VmHWM") : -1;

    if (hold)
        t_start = tp.t_open;
    double secs = (double)(t_end - t_start) / 1e9;
    double tick = (double)sysconf(_SC_CLK_TCK);
    printf("{\"client\":\"c\",\"bench\":\"throughput\",\"label\":\"%s\",\"ok\":%s,"
           "\"jobs\":%lu,\"failed\":%lu,\"warmup_failed\":%lu,\"retries\":%lu,\"warmup_retries\":%"
           "lu,\"window\":%lu,\"workers\":%lu,\"concurrency\":%lu,"
           "\"warmup\":%lu,"
           "\"seconds\":%.4f,\"jobs_per_s\":%.1f,",
           label, status == 0 ? "true" : "false", jobs, failed, warmup_failed, retries,
           warmup_retries, window, nworkers, concurrency, warmup, secs, (double)jobs / secs);
    bench_samples_json(stdout, "round_trip", &tp.rt);
    printf(",\"daemon_rss_before_kb\":%ld,\"daemon_rss_peak_kb\":%ld,\"inflight_at_peak\":%lu,"
           "\"daemon_hwm_kb\":%ld,",
           rss_before, mem.rss_peak_kb, mem.inflight_at_peak, hwm);
    if (tp.no_await)
        printf("\"no_await\":true,");
    if (hold)
        printf("\"hold\":true,\"daemon_rss_held_kb\":%ld,\"held\":%lu,", mem.rss_held_kb, mem.held);
    /* What the machine did besides us: on a shared machine, the noise in these figures. */
    double cpu_self = self1 - self0, cpu_worker = (double)(w1 - w0) / tick;
    double cpu_daemon = d0 >= 0 ? (double)(d1 - d0) / tick : 0;
    double cpu_pg = pg0 >= 0 ? (double)(pg1 - pg0) / tick : 0;
    double cpu_all = (double)(sys1 - sys0) / tick;
    printf("\"cpu_s\":{\"producer\":%.3f,\"worker\":%.3f,\"daemon\":%.3f,\"postgres\":%.3f,"
           "\"machine\":%.3f,\"others\":%.3f}}\n",
           cpu_self, cpu_worker, cpu_daemon, cpu_pg, cpu_all,
           cpu_all - cpu_self - cpu_worker - cpu_daemon - cpu_pg);
    bench_samples_free(&tp.rt);
    free(tp.t0);
    free(tp.job);
    free(tp.held);
    free(tp.due);
    return status;
}
