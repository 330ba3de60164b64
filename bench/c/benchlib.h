/*
 * What the C benchmarks share: a clock every process of the host agrees on, sample
 * statistics, the job a benchmark enqueues and the worker process that runs it, and what
 * /proc says about the daemon's memory and everyone's CPU time.
 */
#ifndef BENCHLIB_H
#define BENCHLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <reseolio.h>

/* The function every C benchmark enqueues; its handler returns when it started. */
#define BENCH_FN "bench:c:noop"

/* CLOCK_MONOTONIC in ns: one clock for the whole host, so a worker process's timestamp can
 * be subtracted from the producer's. */
int64_t bench_now_ns(void);

/* Samples in ns. Owner: the caller; bench_samples_free releases them. */
struct bench_samples {
    int64_t *v;
    size_t n, cap;
};

/* Append one sample. Returns 0, or -1 when memory ran out. */
int bench_samples_add(struct bench_samples *s, int64_t ns) __attribute__((warn_unused_result));
void bench_samples_free(struct bench_samples *s);

/* Write "name":{"n":..,"p50_ms":..,"p95_ms":..,"p99_ms":..,"mean_ms":..,"max_ms":..} (sorts
 * the samples). */
void bench_samples_json(FILE *out, const char *name, struct bench_samples *s);

/* The args of one job: MessagePack [t0] with t0 = bench_now_ns() at the call. */
#define BENCH_ARGS_LEN 10
void bench_args_encode(uint8_t out[BENCH_ARGS_LEN], int64_t t0);

/* The handler's result: MessagePack uint64, bench_now_ns() when it started. Returns 0, or
 * -1 when the bytes are not one. */
int bench_result_decode(const uint8_t *p, size_t len, int64_t *started)
    __attribute__((warn_unused_result));

/* Connect to the daemon at socket (NULL: the default path); exits the process on failure. */
struct rs_client *bench_connect(const char *socket, const char *name, unsigned max_inflight);

/*
 * Fork a worker process with its own connection that runs BENCH_FN with concurrency pool
 * threads until it gets SIGTERM. Returns its pid; exits on failure. Call before the parent
 * starts threads or connects. With gate not NULL the worker connects only once
 * bench_worker_open(*gate) is called (until then the daemon has no worker for BENCH_FN).
 */
pid_t bench_worker_start(const char *socket, unsigned concurrency, int *gate);

/* Let a gated worker connect. */
void bench_worker_open(int gate);

/* Handler runs so far in the worker processes started by this process (shared memory). */
uint64_t bench_worker_runs(void);

/* SIGTERM the worker, wait for it; returns its exit status (-1 when it died by a signal). */
int bench_worker_stop(pid_t pid);

/* A field of /proc/PID/status in kB ("VmRSS", "VmHWM"), or -1. */
long bench_proc_status_kb(pid_t pid, const char *field);

/* utime + stime of one process in clock ticks, or -1. */
long long bench_proc_cpu_ticks(pid_t pid);

/* utime + stime of a process and its children (a postmaster and its backends), or -1.
 * Children that exited are not counted (the daemon's sessions live through a run). */
long long bench_tree_cpu_ticks(pid_t root);

/* Busy clock ticks of the whole machine, all CPUs (/proc/stat: all but idle and iowait). */
long long bench_sys_busy_ticks(void);

/* CPU seconds this process used so far (all its threads). */
double bench_self_cpu_s(void);

/* Parse a decimal unsigned in [min, max] or exit with a message naming opt. */
unsigned long bench_parse_ulong(const char *opt, const char *s, unsigned long min,
                                unsigned long max);

#endif
