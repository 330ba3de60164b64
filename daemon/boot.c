/*
 * Storage boot: the blocking steps before the engine can use PostgreSQL (start the private
 * cluster when no storage is given, apply the migrations), run in a helper thread so that
 * the daemon serves its socket at once; retried with a backoff until they succeed.
 */
#include "boot.h"

#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "schema.h"

static int boot_spawn(struct boot *b);

/* The helper thread: cluster (if private), then migrations; then one byte to the loop. */
static void *boot_thread(void *arg)
{
    struct boot *b = arg;
    const char *conninfo = b->storage;
    b->rc = 0;
    b->err[0] = '\0';
    if (conninfo == NULL) {
        if (!b->cluster.running) {
            struct pgcluster_opts o = {.state_dir = b->state_dir};
            log_info("no --storage given: starting the daemon's private PostgreSQL cluster");
            if (pgcluster_start(&o, &b->cluster, b->err, sizeof(b->err)) != 0) {
                b->rc = -1;
                goto out;
            }
            snprintf(b->conninfo_priv, sizeof(b->conninfo_priv), "%s", b->cluster.conninfo);
            log_info("storage: private cluster in %s (PostgreSQL %d, socket in %s, run by %s); "
                     "it stops with the daemon",
                     b->cluster.state_dir, b->cluster.major, b->cluster.sockdir, b->cluster.user);
        }
        conninfo = b->conninfo_priv;
    }
    if (schema_migrate(conninfo, b->schema, &b->version, b->err, sizeof(b->err)) != 0)
        b->rc = -1;
out:;
    char one = 1;
    ssize_t w = write(b->pipe[1], &one, 1);
    (void)w;
    return NULL;
}

/* Retry timer: boot again. */
static void boot_on_retry(evutil_socket_t fd, short what, void *arg)
{
    struct boot *b = arg;
    if (boot_spawn(b) != 0)
        log_error("cannot start the storage boot thread; the job engine stays unavailable");
}

/* The thread is done: hand the storage to the engine, or try again later. */
static void boot_on_done(evutil_socket_t fd, short what, void *arg)
{
    struct boot *b = arg;
    char buf[8];
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
    pthread_join(b->thread, NULL);
    b->thread_running = false;
    if (b->rc != 0) {
        log_error("storage %s is not usable: %s; job requests are answered \"unavailable\"; "
                  "trying again in %d ms",
                  b->display, b->err, b->retry_ms);
        struct timeval tv = {b->retry_ms / 1000, (b->retry_ms % 1000) * 1000};
        if (evtimer_add(b->ev_retry, &tv) != 0)
            log_error("cannot arm the storage retry timer");
        b->retry_ms = b->retry_ms * 2 > BOOT_RETRY_MAX_MS ? BOOT_RETRY_MAX_MS : b->retry_ms * 2;
        b->ready(b->arg, NULL);
        return;
    }
    log_info("storage %s: schema \"%s\" at version %d", b->display, b->schema, b->version);
    b->ready(b->arg, b->storage != NULL ? b->storage : b->conninfo_priv);
}

/* Start the helper thread. */
static int boot_spawn(struct boot *b)
{
    if (pthread_create(&b->thread, NULL, boot_thread, b) != 0)
        return -1;
    b->thread_running = true;
    return 0;
}

/* Copy a string or NULL; false when memory ran out. */
static bool boot_dup(char **dst, const char *src)
{
    *dst = src != NULL ? strdup(src) : NULL;
    return src == NULL || *dst != NULL;
}

/* Set up and start. */
int boot_start(struct boot **out, struct event_base *base, const struct boot_opts *o,
               boot_ready_cb ready, void *arg)
{
    struct boot *b = calloc(1, sizeof(*b));
    *out = NULL;
    if (b == NULL)
        return -1;
    b->base = base;
    b->ready = ready;
    b->arg = arg;
    b->retry_ms = BOOT_RETRY_MIN_MS;
    b->pipe[0] = b->pipe[1] = -1;
    b->cluster.lock_fd = -1;
    if (!boot_dup(&b->storage, o->storage) || !boot_dup(&b->state_dir, o->state_dir) ||
        !boot_dup(&b->schema, o->schema) || !boot_dup(&b->display, o->display) ||
        pipe2(b->pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        goto fail;
    b->ev_done = event_new(base, b->pipe[0], EV_READ | EV_PERSIST, boot_on_done, b);
    b->ev_retry = evtimer_new(base, boot_on_retry, b);
    if (b->ev_done == NULL || b->ev_retry == NULL || event_add(b->ev_done, NULL) != 0 ||
        boot_spawn(b) != 0)
        goto fail;
    *out = b;
    return 0;
fail:
    boot_free(b);
    return -1;
}

/* Join, stop the cluster, release. */
void boot_free(struct boot *b)
{
    if (b == NULL)
        return;
    if (b->thread_running) {
        log_info("waiting for the storage boot in progress to end");
        pthread_join(b->thread, NULL);
        b->thread_running = false;
    }
    if (b->cluster.running) {
        log_info("stopping the private PostgreSQL cluster in %s", b->cluster.state_dir);
        if (pgcluster_stop(&b->cluster) != 0)
            log_error("the private cluster did not stop cleanly (see %s)", b->cluster.logfile);
    }
    if (b->ev_done != NULL)
        event_free(b->ev_done);
    if (b->ev_retry != NULL)
        event_free(b->ev_retry);
    if (b->pipe[0] >= 0)
        close(b->pipe[0]);
    if (b->pipe[1] >= 0)
        close(b->pipe[1]);
    free(b->storage);
    free(b->state_dir);
    free(b->schema);
    free(b->display);
    free(b);
}
