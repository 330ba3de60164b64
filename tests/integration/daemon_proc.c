/*
 * Runs the real reseoliod for a test: a private socket in a temp dir, readiness taken from
 * its "ready" log line (no sleeping), its stderr captured, stopped by SIGTERM or SIGKILL.
 */
#include "daemon_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Bound on the captured log; later output is still drained, only not kept. */
#define DAEMON_PROC_LOG_MAX (8u << 20)

/* Make the temp dir. */
int daemon_proc_init(struct daemon_proc *d)
{
    memset(d, 0, sizeof(*d));
    d->pidfd = -1;
    d->err_fd = -1;
    snprintf(d->dir, sizeof(d->dir), "/tmp/rs-it-XXXXXX");
    if (mkdtemp(d->dir) == NULL) {
        d->dir[0] = '\0';
        return -1;
    }
    snprintf(d->socket, sizeof(d->socket), "%s/reseolio.sock", d->dir);
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    return 0;
}

/* Copy the daemon's stderr into d->log and to ours, until it closes. */
static void *daemon_proc_drain(void *arg)
{
    struct daemon_proc *d = arg;
    char buf[4096];
    for (;;) {
        ssize_t n = read(d->err_fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        /* Shown by meson on failure; helps to tell what the daemon did. */
        fwrite(buf, 1, (size_t)n, stderr);
        pthread_mutex_lock(&d->mu);
        if (d->log_len + (size_t)n <= DAEMON_PROC_LOG_MAX) {
            char *grown = realloc(d->log, d->log_len + (size_t)n + 1);
            if (grown != NULL) {
                d->log = grown;
                memcpy(d->log + d->log_len, buf, (size_t)n);
                d->log_len += (size_t)n;
                d->log[d->log_len] = '\0';
            }
        }
        pthread_cond_broadcast(&d->cv);
        pthread_mutex_unlock(&d->mu);
    }
    pthread_mutex_lock(&d->mu);
    d->log_eof = true;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* True when the test names the storage itself (flag or environment). */
static bool daemon_proc_names_storage(const struct daemon_opts *o)
{
    for (const char *const *a = o->args; a != NULL && *a != NULL; a++)
        if (strcmp(*a, "--storage") == 0)
            return true;
    for (const char *const *e = o->env; e != NULL && *e != NULL; e++)
        if (strncmp(*e, "RESEOLIO_STORAGE=", 17) == 0)
            return true;
    return false;
}

/* The daemon's environment: ours without RESEOLIO_* settings, the state directory, the
 * harness's PostgreSQL unless the test chose storage, plus the test's extras. */
static char **daemon_proc_env(struct daemon_proc *d, const struct daemon_opts *o)
{
    extern char **environ;
    size_t n = 0, extra = 0;
    while (environ[n] != NULL)
        n++;
    while (o->env != NULL && o->env[extra] != NULL)
        extra++;
    snprintf(d->env_state, sizeof(d->env_state), "RESEOLIO_STATE_DIR=%s/state", d->dir);
    const char *pg = getenv("RESEOLIO_TEST_PG");
    d->env_storage[0] = '\0';
    if (pg != NULL && !o->private_storage && !daemon_proc_names_storage(o))
        snprintf(d->env_storage, sizeof(d->env_storage), "RESEOLIO_STORAGE=%s", pg);
    char **envp = calloc(n + extra + 3, sizeof(*envp));
    if (envp == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "RESEOLIO_", 9) != 0 || strncmp(environ[i], "RESEOLIOD=", 10) == 0)
            envp[k++] = environ[i];
    envp[k++] = d->env_state;
    if (d->env_storage[0] != '\0')
        envp[k++] = d->env_storage;
    for (size_t i = 0; i < extra; i++)
        envp[k++] = (char *)o->env[i];
    envp[k] = NULL;
    return envp;
}

/* In the child (async-signal-safe calls only): umask, stdio, parent-death signal, exec. */
static void daemon_proc_exec(const struct daemon_opts *o, int errw, const char *bin, char **argv,
                             char **envp)
{
    /* The daemon must not outlive a test that crashed or failed an assertion. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (o->umask_000)
        umask(0);
    dup2(errw, STDERR_FILENO);
    close(errw);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
        dup2(devnull, STDIN_FILENO);
        dup2(devnull, STDOUT_FILENO);
        close(devnull);
    }
    execve(bin, argv, envp);
    static const char msg[] = "daemon_proc: cannot exec reseoliod\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)w;
    _exit(127);
}

/* Fork and exec the daemon, start draining, wait for "ready". */
int daemon_proc_start(struct daemon_proc *d, const struct daemon_opts *o)
{
    static const struct daemon_opts none;
    if (o == NULL)
        o = &none;
    const char *bin = getenv("RESEOLIOD");
    if (bin == NULL) {
        fprintf(stderr, "daemon_proc: RESEOLIOD (path of reseoliod) is not set\n");
        return -1;
    }
    if (o->socket != NULL)
        snprintf(d->socket, sizeof(d->socket), "%s", o->socket);

    const char *argv[64];
    size_t argc = 0;
    argv[argc++] = bin;
    if (!o->no_socket_flag) {
        argv[argc++] = "--socket";
        argv[argc++] = d->socket;
    }
    argv[argc++] = "--log-level";
    argv[argc++] = "debug";
    for (const char *const *a = o->args; a != NULL && *a != NULL && argc < 62; a++)
        argv[argc++] = *a;
    argv[argc] = NULL;

    char **envp = daemon_proc_env(d, o);
    if (envp == NULL)
        return -1;
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        free(envp);
        return -1;
    }
    pthread_mutex_lock(&d->mu);
    free(d->log);
    d->log = NULL;
    d->log_len = 0;
    d->log_eof = false;
    pthread_mutex_unlock(&d->mu);
    d->reaped = false;
    d->status = 0;

    pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        daemon_proc_exec(o, pipefd[1], bin, (char **)argv, envp);
    }
    free(envp);
    close(pipefd[1]);
    if (pid < 0) {
        close(pipefd[0]);
        return -1;
    }
    d->pid = pid;
    d->err_fd = pipefd[0];
    d->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pthread_create(&d->drain, NULL, daemon_proc_drain, d) != 0) {
        daemon_proc_kill(d);
        return -1;
    }
    d->draining = true;

    if (daemon_proc_wait_log(d, "ready: listening on", DAEMON_PROC_TIMEOUT_MS) &&
        daemon_proc_log_has(d, "ready: listening on"))
        return 0;
    /* Exited before it was ready, or hung: reap it either way. */
    if (daemon_proc_wait(d, DAEMON_PROC_TIMEOUT_MS) < 0)
        daemon_proc_kill(d);
    return -1;
}

/* Absolute CLOCK_REALTIME time timeout_ms from now, for pthread_cond_timedwait. */
static struct timespec daemon_proc_abstime(int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Wait on the log condition until needle shows up, the pipe closes, or time runs out. */
bool daemon_proc_wait_log(struct daemon_proc *d, const char *needle, int timeout_ms)
{
    struct timespec until = daemon_proc_abstime(timeout_ms);
    bool found = false;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        found = d->log != NULL && strstr(d->log, needle) != NULL;
        if (found || d->log_eof)
            break;
        if (pthread_cond_timedwait(&d->cv, &d->mu, &until) == ETIMEDOUT) {
            found = d->log != NULL && strstr(d->log, needle) != NULL;
            break;
        }
    }
    pthread_mutex_unlock(&d->mu);
    return found;
}

/* Search the captured log. */
bool daemon_proc_log_has(struct daemon_proc *d, const char *needle)
{
    pthread_mutex_lock(&d->mu);
    bool found = d->log != NULL && strstr(d->log, needle) != NULL;
    pthread_mutex_unlock(&d->mu);
    return found;
}

/* Reap the daemon and the drain thread once it has exited. */
static void daemon_proc_reap(struct daemon_proc *d)
{
    int st = 0;
    while (waitpid(d->pid, &st, 0) < 0 && errno == EINTR)
        ;
    d->status = st;
    d->reaped = true;
    d->pid = 0;
    if (d->pidfd >= 0)
        close(d->pidfd);
    d->pidfd = -1;
    if (d->draining) {
        pthread_join(d->drain, NULL);
        d->draining = false;
    }
    if (d->err_fd >= 0)
        close(d->err_fd);
    d->err_fd = -1;
}

/* Wait (on the pidfd) for the daemon to exit. */
int daemon_proc_wait(struct daemon_proc *d, int timeout_ms)
{
    if (d->reaped)
        return d->status;
    if (d->pid == 0)
        return -1;
    if (d->pidfd >= 0) {
        struct pollfd p = {.fd = d->pidfd, .events = POLLIN};
        int n;
        while ((n = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
            ;
        if (n == 0)
            return -1;
    }
    daemon_proc_reap(d);
    return d->status;
}

/* Graceful stop, with SIGKILL as the bound. */
int daemon_proc_stop(struct daemon_proc *d)
{
    if (d->reaped)
        return d->status;
    if (d->pid == 0)
        return -1;
    kill(d->pid, SIGTERM);
    int st = daemon_proc_wait(d, DAEMON_PROC_TIMEOUT_MS);
    if (st < 0) {
        fprintf(stderr, "daemon_proc: reseoliod ignored SIGTERM for %d ms; killing it\n",
                DAEMON_PROC_TIMEOUT_MS);
        daemon_proc_kill(d);
        return -1;
    }
    return st;
}

/* SIGKILL and reap. */
void daemon_proc_kill(struct daemon_proc *d)
{
    if (d->pid == 0)
        return;
    kill(d->pid, SIGKILL);
    daemon_proc_reap(d);
}

/* nftw callback: remove one entry. */
static int daemon_proc_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* Kill, stop draining, remove the temp dir. */
void daemon_proc_cleanup(struct daemon_proc *d)
{
    daemon_proc_kill(d);
    if (d->dir[0] != '\0') {
        nftw(d->dir, daemon_proc_rm, 16, FTW_DEPTH | FTW_PHYS);
        d->dir[0] = '\0';
    }
    free(d->log);
    d->log = NULL;
}
