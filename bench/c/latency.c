/*
 * rsbench-latency: one job at a time, the three latencies of its life from the caller's
 * side: enqueue (call -> ENQUEUED, the job is durable), scheduling lag (call -> the handler
 * starts, in a worker process), round trip (call -> the result is back). Blocking calls, as
 * an application that waits for each job would make them. Prints one JSON object.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchlib.h"

static void usage(FILE *to)
{
    fprintf(to, "usage: rsbench-latency [--socket PATH] [--samples N] [--warmup N]\n"
                "                       [--concurrency N] [--label TEXT]\n");
}

int main(int argc, char **argv)
{
    const char *socket = NULL, *label = "";
    unsigned long samples = 1000, warmup = 200, concurrency = 1;
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'},
        {"samples", required_argument, NULL, 'n'},
        {"warmup", required_argument, NULL, 'w'},
        {"concurrency", required_argument, NULL, 'c'},
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
            samples = bench_parse_ulong("--samples", optarg, 1, 10000000);
            break;
        case 'w':
            warmup = bench_parse_ulong("--warmup", optarg, 1, 10000000);
            break;
        case 'c':
            concurrency = bench_parse_ulong("--concurrency", optarg, 1, 256);
            break;
        case 'l':
            label = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }

    pid_t worker = bench_worker_start(socket, (unsigned)concurrency, NULL);
    long long busy0 = bench_sys_busy_ticks();
    int64_t start = bench_now_ns();
    struct rs_client *c = bench_connect(socket, "rsbench-latency", 0);
    struct bench_samples enq = {0}, lag = {0}, rt = {0};
    unsigned long failed = 0;
    int status = 0;
    /* The warm-up also waits out the worker's start: its first job runs once it registered. */
    for (unsigned long i = 0; i < warmup + samples; i++) {
        uint8_t args[BENCH_ARGS_LEN];
        int64_t t0 = bench_now_ns();
        bench_args_encode(args, t0);
        struct rs_enqueue_result r;
        enum rs_client_status st = rs_enqueue(c, BENCH_FN, args, sizeof(args), NULL, &r);
        int64_t t1 = bench_now_ns();
        if (st != RS_CLIENT_OK) {
            fprintf(stderr, "rsbench-latency: enqueue: %s\n", rs_client_errmsg(c));
            status = 1;
            break;
        }
        struct rs_completion *done = NULL;
        st = rs_await(c, r.job, 30000, &done);
        int64_t t3 = bench_now_ns();
        if (st != RS_CLIENT_OK) {
            fprintf(stderr, "rsbench-latency: await job %llu: %s\n", (unsigned long long)r.job,
                    rs_client_errmsg(c));
            status = 1;
            break;
        }
        int64_t t2 = 0;
        bool ok = done->status == RS_JOB_SUCCESS &&
                  bench_result_decode(done->result, done->result_len, &t2) == 0;
        rs_completion_free(done);
        if (!ok) {
            failed++;
            continue;
        }
        if (i < warmup)
            continue;
        if (bench_samples_add(&enq, t1 - t0) != 0 || bench_samples_add(&lag, t2 - t0) != 0 ||
            bench_samples_add(&rt, t3 - t0) != 0) {
            fprintf(stderr, "rsbench-latency: out of memory\n");
            status = 1;
            break;
        }
    }
    double secs = (double)(bench_now_ns() - start) / 1e9;
    double busy = (double)(bench_sys_busy_ticks() - busy0) / (double)sysconf(_SC_CLK_TCK);
    rs_client_close(c);
    if (bench_worker_stop(worker) != 0 && status == 0)
        fprintf(stderr, "rsbench-latency: the worker did not stop cleanly\n");

    printf("{\"client\":\"c\",\"bench\":\"latency\",\"label\":\"%s\",\"ok\":%s,\"failed\":%lu,"
           "\"warmup\":%lu,\"concurrency\":%lu,\"machine_busy_cpus\":%.2f,",
           label, status == 0 ? "true" : "false", failed, warmup, concurrency, busy / secs);
    bench_samples_json(stdout, "enqueue", &enq);
    putchar(',');
    bench_samples_json(stdout, "lag", &lag);
    putchar(',');
    bench_samples_json(stdout, "round_trip", &rt);
    printf("}\n");
    bench_samples_free(&enq);
    bench_samples_free(&lag);
    bench_samples_free(&rt);
    return status;
}
