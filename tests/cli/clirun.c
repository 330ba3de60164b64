/*
 * Runs the real `reseolio` binary for a test: fork, exec with pipes on stdout and stderr,
 * read both until they close (poll, so neither can fill up and block the child), reap.
 */
#include "clirun.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long one run may take (sanitizer builds are slow; await tests wait on purpose). */
#define CLIRUN_TIMEOUT_MS 60000

/* A growing, NUL-terminated capture. */
struct clirun_buf {
    char *p;
    size_t len;
};

static void clirun_append(struct clirun_buf *b, const char *data, size_t n)
{
    char *grown = realloc(b->p, b->len + n + 1);
    cr_assert_not_null(grown);
    b->p = grown;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* The child's environment: ours without RESEOLIO_SOCKET, plus the test's entries. */
static char **clirun_env(const char *const *env)
{
    extern char **environ;
    size_t n = 0, extra = 0;
    while (environ[n] != NULL)
        n++;
    while (env != NULL && env[extra] != NULL)
        extra++;
    char **out = calloc(n + extra + 1, sizeof(*out));
    cr_assert_not_null(out);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "RESEOLIO_SOCKET=", 16) != 0)
            out[k++] = environ[i];
    for (size_t i = 0; i < extra; i++)
        out[k++] = (char *)env[i];
    return out;
}

/* In the child: pipes onto stdout and stderr, then exec. */
static void clirun_exec(const char *bin, const char *const *argv, char **envp, int outw, int errw)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0)
        dup2(devnull, STDIN_FILENO);
    dup2(outw, STDOUT_FILENO);
    dup2(errw, STDERR_FILENO);
    size_t argc = 0;
    while (argv[argc] != NULL)
        argc++;
    const char **full = calloc(argc + 2, sizeof(*full));
    if (full != NULL) {
        full[0] = bin;
        memcpy(full + 1, argv, argc * sizeof(*full));
        execve(bin, (char **)full, envp);
    }
    _exit(126);
}

static int64_t clirun_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read both pipes until both close or time runs out; returns false on timeout. */
static bool clirun_drain(int outr, int errr, struct clirun_buf *out, struct clirun_buf *err)
{
    struct pollfd p[2] = {{.fd = outr, .events = POLLIN}, {.fd = errr, .events = POLLIN}};
    struct clirun_buf *bufs[2] = {out, err};
    int open_fds = 2;
    int64_t end = clirun_now_ms() + CLIRUN_TIMEOUT_MS;
    while (open_fds > 0) {
        int64_t left = end - clirun_now_ms();
        if (left <= 0)
            return false;
        int n = poll(p, 2, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        cr_assert_geq(n, 0, "poll: %s", strerror(errno));
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || p[i].revents == 0)
                continue;
            char buf[4096];
            ssize_t got = read(p[i].fd, buf, sizeof(buf));
            if (got > 0) {
                clirun_append(bufs[i], buf, (size_t)got);
            } else if (got == 0 || errno != EINTR) {
                p[i].fd = -1;
                open_fds--;
            }
        }
    }
    return true;
}

void clirun_argv(struct clirun *r, const char *const *argv, const char *const *env)
{
    const char *bin = getenv("RESEOLIO_CLI");
    cr_assert_not_null(bin, "RESEOLIO_CLI (path of the reseolio binary) is not set");
    int outp[2], errp[2];
    cr_assert_eq(pipe2(outp, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(errp, O_CLOEXEC), 0);
    char **envp = clirun_env(env);
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0)
        clirun_exec(bin, argv, envp, outp[1], errp[1]);
    free(envp);
    close(outp[1]);
    close(errp[1]);
    struct clirun_buf out = {0}, err = {0};
    clirun_append(&out, "", 0);
    clirun_append(&err, "", 0);
    bool done = clirun_drain(outp[0], errp[0], &out, &err);
    close(outp[0]);
    close(errp[0]);
    if (!done)
        kill(pid, SIGKILL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    r->out = out.p;
    r->err = err.p;
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    cr_assert(done, "reseolio %s ... did not end within %d ms", argv[0] ? argv[0] : "",
              CLIRUN_TIMEOUT_MS);
}

void clirun_free(struct clirun *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

json_t *clirun_json(const struct clirun *r)
{
    json_error_t e;
    json_t *j = json_loads(r->out, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    cr_assert_not_null(j, "stdout is not one JSON document (%s, line %d): %s", e.text, e.line,
                       r->out);
    return j;
}

void clirun_expect_ok(const struct clirun *r)
{
    cr_expect_eq(r->status, 0, "exit status %d, stderr: %s", r->status, r->err);
    cr_expect_str_empty(r->err, "stderr: %s", r->err);
}

bool clirun_err_line(const struct clirun *r, const char *needle)
{
    size_t n = strlen(r->err);
    return n > 0 && strncmp(r->err, "reseolio: ", 10) == 0 && r->err[n - 1] == '\n' &&
           strchr(r->err, '\n') == r->err + n - 1 && strstr(r->err, needle) != NULL;
}

void clirun_expect_error(const struct clirun *r, int status, const char *needle)
{
    cr_expect_eq(r->status, status, "exit status %d, expected %d; stderr: %s", r->status, status,
                 r->err);
    cr_expect_str_empty(r->out, "stdout: %s", r->out);
    cr_expect(clirun_err_line(r, needle), "stderr is not one 'reseolio: ' line with \"%s\": %s",
              needle, r->err);
}
