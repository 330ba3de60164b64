/*
 * reseolio-producer: enqueue N calls of examples:math:add(i, i * i), await every result and
 * print it. By default it drives the client in non-blocking mode from its own poll loop (all
 * calls in flight at once, each AWAIT sent from its ENQUEUED callback); --blocking does the
 * same with the blocking calls, one after the other.
 */
#include <getopt.h>
#include <inttypes.h>
#include <msgpack.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <reseolio.h>

#define ADD_NAME "examples:math:add"

enum call_state {
    CALL_NEW,       /* not enqueued yet */
    CALL_ENQUEUING, /* ENQUEUE in flight */
    CALL_ENQUEUED,  /* durable, AWAIT not sent yet (the client's queue was full) */
    CALL_AWAITING,  /* AWAIT in flight */
    CALL_DONE,
};

struct run;

/* One call and what became of it. */
struct call {
    struct run *run;
    int64_t a, b;
    uint64_t job;
    enum call_state state;
};

/* Settings and progress of the whole run. */
struct run {
    struct call *calls;
    unsigned n;
    unsigned next_new; /* calls[next_new..n) are CALL_NEW */
    unsigned finished;
    unsigned failed;
    unsigned awaits_held; /* calls in CALL_ENQUEUED */
    int64_t await_ms;
    const char *key_prefix; /* idempotency keys "<prefix>-<i>", or NULL */
    struct rs_enqueue_opts opts;
};

/* MessagePack [a, b] into sb. */
static void pack_args(msgpack_sbuffer *sb, int64_t a, int64_t b)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int64(&pk, a);
    msgpack_pack_int64(&pk, b);
}

/* Print how one call ended; returns whether it succeeded. */
static bool report(const struct call *call, const struct rs_completion *done)
{
    if (done->status != RS_JOB_SUCCESS) {
        printf("add(%" PRId64 ", %" PRId64 ")  job %" PRIu64 " %s after %" PRIu64
               " attempt(s): %s\n",
               call->a, call->b, call->job, rs_job_status_name(done->status), done->attempt,
               done->error != NULL ? done->error : "(no error)");
        return false;
    }
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    bool ok = done->result != NULL &&
              msgpack_unpack_next(&u, (const char *)done->result, done->result_len, &off) ==
                  MSGPACK_UNPACK_SUCCESS &&
              (u.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
               u.data.type == MSGPACK_OBJECT_NEGATIVE_INTEGER);
    if (ok)
        printf("add(%" PRId64 ", %" PRId64 ") = %" PRId64 "  (job %" PRIu64 ", attempt %" PRIu64
               ")\n",
               call->a, call->b, u.data.via.i64, call->job, done->attempt);
    else
        printf("add(%" PRId64 ", %" PRId64 ")  job %" PRIu64 ": the result is not an integer\n",
               call->a, call->b, call->job);
    msgpack_unpacked_destroy(&u);
    return ok;
}

/* A call is over. */
static void call_finish(struct call *call, bool ok)
{
    call->state = CALL_DONE;
    call->run->finished++;
    if (!ok)
        call->run->failed++;
}

/* The options of call i (its idempotency key lives in keybuf). */
static const struct rs_enqueue_opts *call_opts(struct run *run, unsigned i, char *keybuf,
                                               size_t size, struct rs_enqueue_opts *o)
{
    *o = run->opts;
    if (run->key_prefix != NULL) {
        snprintf(keybuf, size, "%s-%u", run->key_prefix, i);
        o->idempotency_key = keybuf;
    }
    return o;
}

/* ---- non-blocking ---- */

/* The job is final (or the AWAIT failed). */
static void on_completed(struct rs_client *c, const struct rs_reply *r, void *arg)
{
    (void)c;
    struct call *call = arg;
    if (r->status != RS_CLIENT_OK) {
        printf("add(%" PRId64 ", %" PRId64 ")  job %" PRIu64 ": await failed: %s\n", call->a,
               call->b, call->job, r->error);
        call_finish(call, false);
        return;
    }
    call_finish(call, report(call, r->completion));
}

/* Send the AWAIT of a durable call; when the client's queue is full, the loop retries. */
static void call_await(struct rs_client *c, struct call *call)
{
    enum rs_client_status st =
        rs_await_async(c, call->job, call->run->await_ms, on_completed, call);
    if (call->state == CALL_ENQUEUED)
        call->run->awaits_held--;
    if (st == RS_CLIENT_OK) {
        call->state = CALL_AWAITING;
    } else if (st == RS_CLIENT_E_LIMIT) {
        call->state = CALL_ENQUEUED;
        call->run->awaits_held++;
    } else {
        printf("add(%" PRId64 ", %" PRId64 "): await failed: %s\n", call->a, call->b,
               rs_client_errmsg(c));
        call_finish(call, false);
    }
}

/* The job is durable: wait for it, from inside this callback. */
static void on_enqueued(struct rs_client *c, const struct rs_reply *r, void *arg)
{
    struct call *call = arg;
    if (r->status != RS_CLIENT_OK) {
        printf("add(%" PRId64 ", %" PRId64 "): enqueue failed: %s\n", call->a, call->b, r->error);
        call_finish(call, false);
        return;
    }
    call->job = r->enqueued->job;
    if (r->enqueued->deduplicated)
        printf("add(%" PRId64 ", %" PRId64 "): deduplicated to job %" PRIu64 "\n", call->a, call->b,
               call->job);
    call_await(c, call);
}

/* Submit what the client has room for: AWAITs that waited for room, then new calls. */
static bool run_top_up(struct rs_client *c, struct run *run)
{
    for (unsigned i = 0; run->awaits_held > 0 && i < run->next_new; i++)
        if (run->calls[i].state == CALL_ENQUEUED)
            call_await(c, &run->calls[i]);
    while (run->next_new < run->n) {
        struct call *call = &run->calls[run->next_new];
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        pack_args(&sb, call->a, call->b);
        char key[300];
        struct rs_enqueue_opts o;
        enum rs_client_status st = rs_enqueue_async(
            c, ADD_NAME, sb.data, sb.size, call_opts(run, run->next_new, key, sizeof(key), &o),
            on_enqueued, call);
        msgpack_sbuffer_destroy(&sb);
        if (st == RS_CLIENT_E_LIMIT)
            break; /* replies first */
        if (st != RS_CLIENT_OK) {
            fprintf(stderr, "reseolio-producer: %s\n", rs_client_errmsg(c));
            return false;
        }
        call->state = CALL_ENQUEUING;
        run->next_new++;
    }
    return true;
}

/* The event loop an application would have, with the client's fd in it. */
static bool run_nonblocking(struct rs_client *c, struct run *run)
{
    while (run->finished < run->n) {
        if (!run_top_up(c, run))
            return false;
        short events = POLLIN;
        if (rs_client_want_write(c))
            events |= POLLOUT;
        struct pollfd pfd = {.fd = rs_client_fd(c), .events = events};
        if (poll(&pfd, 1, -1) < 0)
            continue; /* EINTR */
        enum rs_client_status st = rs_client_process(c, pfd.revents);
        if (st != RS_CLIENT_OK) {
            fprintf(stderr, "reseolio-producer: %s\n", rs_client_errmsg(c));
            return false;
        }
    }
    return true;
}

/* ---- blocking ---- */

static bool run_blocking(struct rs_client *c, struct run *run)
{
    for (unsigned i = 0; i < run->n; i++) {
        struct call *call = &run->calls[i];
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        pack_args(&sb, call->a, call->b);
        char key[300];
        struct rs_enqueue_opts o;
        struct rs_enqueue_result r;
        enum rs_client_status st =
            rs_enqueue(c, ADD_NAME, sb.data, sb.size, call_opts(run, i, key, sizeof(key), &o), &r);
        msgpack_sbuffer_destroy(&sb);
        if (st != RS_CLIENT_OK) {
            printf("add(%" PRId64 ", %" PRId64 "): enqueue failed: %s\n", call->a, call->b,
                   rs_client_errmsg(c));
            call_finish(call, false);
            continue;
        }
        call->job = r.job;
        call->state = CALL_AWAITING;
    }
    for (unsigned i = 0; i < run->n; i++) {
        struct call *call = &run->calls[i];
        if (call->state != CALL_AWAITING)
            continue;
        struct rs_completion *done = NULL;
        enum rs_client_status st = rs_await(c, call->job, run->await_ms, &done);
        if (st != RS_CLIENT_OK) {
            printf("add(%" PRId64 ", %" PRId64 ")  job %" PRIu64 ": await failed: %s\n", call->a,
                   call->b, call->job, rs_client_errmsg(c));
            call_finish(call, false);
            if (st == RS_CLIENT_E_TIMEOUT || st == RS_CLIENT_E_SERVER)
                continue;
            return false;
        }
        call_finish(call, report(call, done));
        rs_completion_free(done);
    }
    return true;
}

static void usage(FILE *to)
{
    fprintf(to, "usage: reseolio-producer [-n N] [--blocking] [--socket PATH] [--timeout-ms MS]\n"
                "                         [--max-attempts M] [--key PREFIX]\n"
                "  enqueues N calls of " ADD_NAME "(i, i*i), awaits and prints every result\n"
                "  -n N              calls to make (default 10)\n"
                "  --blocking        the blocking API, one call at a time (default: non-blocking)\n"
                "  --socket PATH     the daemon's socket (default: $RESEOLIO_SOCKET, ...)\n"
                "  --timeout-ms MS   how long to await each result (default 60000; -1: forever)\n"
                "  --max-attempts M  attempts per job before it is dead (default 5)\n"
                "  --key PREFIX      idempotency keys PREFIX-<i>: run twice, get the same jobs\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"blocking", no_argument, NULL, 'b'},
        {"socket", required_argument, NULL, 's'},
        {"timeout-ms", required_argument, NULL, 't'},
        {"max-attempts", required_argument, NULL, 'm'},
        {"key", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct run run;
    memset(&run, 0, sizeof(run));
    run.n = 10;
    run.await_ms = 60000;
    rs_enqueue_opts_init(&run.opts);
    run.opts.max_attempts = 5;
    run.opts.initial_delay_ms = 100; /* quick retries, to watch them */
    run.opts.max_delay_ms = 2000;
    const char *socket_path = NULL;
    bool blocking = false;
    int ch;
    while ((ch = getopt_long(argc, argv, "n:bs:t:m:k:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'n':
            run.n = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'b':
            blocking = true;
            break;
        case 's':
            socket_path = optarg;
            break;
        case 't':
            run.await_ms = strtoll(optarg, NULL, 10);
            break;
        case 'm':
            run.opts.max_attempts = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'k':
            run.key_prefix = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || run.n == 0 || run.n > 1000000) {
        usage(stderr);
        return 2;
    }
    run.calls = calloc(run.n, sizeof(*run.calls));
    if (run.calls == NULL) {
        fprintf(stderr, "reseolio-producer: out of memory\n");
        return 1;
    }
    for (unsigned i = 0; i < run.n; i++)
        run.calls[i] = (struct call){.run = &run, .a = i, .b = (int64_t)i * i};

    struct rs_client_opts opts;
    rs_client_opts_init(&opts);
    opts.name = "reseolio-producer";
    struct rs_client *c = NULL;
    char *err = NULL;
    enum rs_client_status st = rs_client_connect(socket_path, &opts, &c, &err);
    if (st != RS_CLIENT_OK) {
        fprintf(stderr, "reseolio-producer: %s\n", err != NULL ? err : rs_client_status_name(st));
        free(err);
        free(run.calls);
        return 1;
    }
    bool ok = blocking ? run_blocking(c, &run) : run_nonblocking(c, &run);
    rs_client_close(c);
    printf("reseolio-producer: %u of %u calls succeeded\n", run.finished - run.failed, run.n);
    free(run.calls);
    return ok && run.failed == 0 && run.finished == run.n ? 0 : 1;
}
