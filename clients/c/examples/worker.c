/*
 * reseolio-worker: a C worker for the function examples:math:add, which reads two integers
 * from its MessagePack args [a, b] and returns a + b. --fail-rate makes attempts fail at
 * random (retryably), to watch the daemon retry them. Stops cleanly on SIGINT / SIGTERM.
 */
#include <getopt.h>
#include <inttypes.h>
#include <msgpack.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <reseolio.h>

#define ADD_NAME "examples:math:add"

/* What every handler shares; the handlers run on the worker's pool threads. */
struct settings {
    double fail_rate; /* 0..1: chance that an attempt fails on purpose */
};

static struct rs_client *client; /* for the signal handler */

/* Ask rs_worker_run to finish the running jobs and return. */
static void on_signal(int sig)
{
    (void)sig;
    rs_worker_stop(client);
}

/* A random number in [0, 1) for this thread. */
static double random_unit(void)
{
    static _Thread_local unsigned seed;
    if (seed == 0)
        seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)&seed;
    return (double)rand_r(&seed) / ((double)RAND_MAX + 1.0);
}

/* Read [a, b] from MessagePack. Returns 0, or -1 when args are not two integers. */
static int read_two_ints(const uint8_t *args, size_t len, int64_t *a, int64_t *b)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = -1;
    size_t off = 0;
    if (msgpack_unpack_next(&u, (const char *)args, len, &off) == MSGPACK_UNPACK_SUCCESS &&
        off == len && u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size == 2) {
        int64_t v[2] = {0, 0};
        rc = 0;
        for (int i = 0; i < 2; i++) {
            const msgpack_object *o = &u.data.via.array.ptr[i];
            if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
                v[i] = (int64_t)o->via.u64;
            else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                v[i] = o->via.i64;
            else
                rc = -1;
        }
        *a = v[0];
        *b = v[1];
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

/* examples:math:add(a, b) -> a + b. */
static int handle_add(struct rs_job_ctx *job, void *user)
{
    const struct settings *s = user;
    size_t len;
    const uint8_t *args = rs_job_args(job, &len);
    int64_t a, b;
    if (read_two_ints(args, len, &a, &b) != 0)
        return rs_job_set_error(job, false, "args must be a MessagePack array of two integers");
    if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b))
        return rs_job_set_error(job, false, "%" PRId64 " + %" PRId64 " overflows", a, b);
    if (random_unit() < s->fail_rate) {
        printf("job %" PRIu64 " attempt %" PRIu64 "/%" PRIu64 ": add(%" PRId64 ", %" PRId64
               ") failed on purpose\n",
               rs_job_id(job), rs_job_attempt(job), rs_job_max_attempts(job), a, b);
        fflush(stdout);
        return rs_job_set_error(job, true, "random failure (--fail-rate) on attempt %" PRIu64,
                                rs_job_attempt(job));
    }
    int64_t sum = a + b;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_int64(&pk, sum);
    enum rs_client_status st = rs_job_set_result(job, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    if (st != RS_CLIENT_OK)
        return rs_job_set_error(job, true, "out of memory");
    printf("job %" PRIu64 " attempt %" PRIu64 ": add(%" PRId64 ", %" PRId64 ") = %" PRId64 "\n",
           rs_job_id(job), rs_job_attempt(job), a, b, sum);
    fflush(stdout);
    return 0;
}

static void usage(FILE *to)
{
    fprintf(to, "usage: reseolio-worker [--socket PATH] [--concurrency N] [--fail-rate P]\n"
                "  runs " ADD_NAME " jobs until SIGINT or SIGTERM\n"
                "  --socket PATH     the daemon's socket (default: $RESEOLIO_SOCKET, ...)\n"
                "  --concurrency N   jobs run at once, on N threads (default 1)\n"
                "  --fail-rate P     fail each attempt with probability P, 0..1 (default 0)\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'},
        {"concurrency", required_argument, NULL, 'c'},
        {"fail-rate", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *socket_path = NULL;
    unsigned concurrency = 1;
    struct settings s = {0};
    int ch;
    while ((ch = getopt_long(argc, argv, "s:c:f:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            socket_path = optarg;
            break;
        case 'c':
            concurrency = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'f':
            s.fail_rate = strtod(optarg, NULL);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || !(s.fail_rate >= 0.0 && s.fail_rate <= 1.0)) {
        usage(stderr);
        return 2;
    }

    struct rs_client_opts opts;
    rs_client_opts_init(&opts);
    opts.name = "reseolio-worker";
    char *err = NULL;
    enum rs_client_status st = rs_client_connect(socket_path, &opts, &client, &err);
    if (st != RS_CLIENT_OK) {
        fprintf(stderr, "reseolio-worker: %s\n", err != NULL ? err : rs_client_status_name(st));
        free(err);
        return 1;
    }
    if ((st = rs_worker_register(client, ADD_NAME, handle_add, &s)) != RS_CLIENT_OK ||
        (st = rs_worker_set_concurrency(client, concurrency)) != RS_CLIENT_OK) {
        fprintf(stderr, "reseolio-worker: %s\n", rs_client_errmsg(client));
        rs_client_close(client);
        return 2;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    printf("reseolio-worker: running " ADD_NAME " (concurrency %u, fail rate %.2f)\n", concurrency,
           s.fail_rate);
    fflush(stdout);
    st = rs_worker_run(client);
    if (st != RS_CLIENT_OK)
        fprintf(stderr, "reseolio-worker: %s\n", rs_client_errmsg(client));
    else
        printf("reseolio-worker: stopped\n");
    rs_client_close(client);
    return st == RS_CLIENT_OK ? 0 : 1;
}
