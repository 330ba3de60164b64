/*
 * Chaos test support: worker processes that record every execution and reconnect by
 * themselves, helpers that wait on database state with a bound, and a pipelined producer.
 * Used by the chaos tests (criterion) and by the soak program.
 */
#ifndef RESEOLIO_TEST_CHAOS_H
#define RESEOLIO_TEST_CHAOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What a worker process does with a DISPATCH. */
enum chaos_mode {
    CHAOS_ACK,           /* acknowledge success at once (result "r<job>") */
    CHAOS_HOLD,          /* never acknowledge: the job runs until the worker dies */
    CHAOS_WORK,          /* work 10 ms (one job at a time), then acknowledge success */
    CHAOS_STOP_THEN_ACK, /* stop itself (SIGSTOP) on the first DISPATCH, acknowledge on SIGCONT */
};

/* A worker process: forked, reconnecting to socket whenever its connection ends, serving
 * name with concurrency conc. Every execution is a line "E <job> <attempt> <pid>" appended to
 * log (one write, O_APPEND), every ACK the daemon confirmed "S <job> <attempt> <pid>", every ACK it
 * refused (stale) "X ...". Runs until killed. Returns its pid, or -1. */
pid_t chaos_worker(const char *socket, const char *name, int conc, enum chaos_mode mode,
                   const char *log);

/* SIGKILL and reap a process of ours. */
void chaos_kill(pid_t pid);

/* Executions recorded in a log: (job, attempt, pid, kind 'E' or 'S'). */
struct chaos_exec {
    int64_t job;
    int64_t attempt;
    int pid;
    char kind;
};
/* Read a log; returns the number of records (malloc'd array in *out), -1 when unreadable. */
long chaos_read_log(const char *path, struct chaos_exec **out);
/* Records of kind in the log (0 when there is no log). */
long chaos_count(const char *path, char kind);

/* Wait until the integer that sql returns on db equals want, at most timeout_ms; polls the
 * database every 50 ms. Returns true when it did. A failing query counts as "not yet". */
bool chaos_wait_sql(const char *db, const char *sql, long long want, int timeout_ms);
/* One integer from sql on db, or -1 when the query fails (no test failure). */
long long chaos_sql_int(const char *db, const char *sql);

/* ENQUEUE n jobs named name with keys "<prefix><i>" (i from first), pipelined, retrying every
 * request that gets a retryable ERROR or no reply (reconnecting to socket as needed) until
 * each is answered ENQUEUED or timeout_ms passes. ids[i - first] receives each id when ids is
 * not NULL. Returns the number enqueued. */
long chaos_produce(const char *socket, const char *name, const char *prefix, long first, long n,
                   uint64_t timeout_ms, int64_t *ids, int deadline_ms);

/* From now on the ENQUEUEs of chaos_produce carry max_attempts n (0: the daemon's default). */
void chaos_set_max_attempts(uint32_t n);

/* Milliseconds on the monotonic clock. */
int64_t chaos_now_ms(void);

#endif
