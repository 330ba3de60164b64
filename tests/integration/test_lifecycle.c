/*
 * The daemon as a process: settings and exit statuses, the socket's files and modes, stale
 * sockets after a crash, one daemon per socket, and the graceful stop on SIGTERM.
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon_proc.h"
#include "reseolio.h"
#include "wire.h"

static struct daemon_proc d1, d2;

/* Two slots for daemons, for the tests that need one or two. */
static void setup(void)
{
    cr_assert_eq(daemon_proc_init(&d1), 0);
    cr_assert_eq(daemon_proc_init(&d2), 0);
}

/* Kill whatever is still running and remove the temp dirs. */
static void teardown(void)
{
    daemon_proc_cleanup(&d1);
    daemon_proc_cleanup(&d2);
}

/* True when d exited normally with this status. */
static bool exited_with(int st, int code)
{
    return st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == code;
}

/* Run the daemon with args (no --socket unless given) and expect it to exit with code. */
static void expect_exit(const char *const *args, const char *const *env, int code,
                        const char *needle)
{
    struct daemon_opts o = {.args = args, .env = env};
    cr_assert_neq(daemon_proc_start(&d2, &o), 0, "reseoliod started although it should not");
    cr_expect(exited_with(d2.status, code), "exit status %#x, expected %d", d2.status, code);
    if (needle != NULL)
        cr_expect(daemon_proc_log_has(&d2, needle), "its message lacks '%s'", needle);
}

/* One client round trip to the daemon on path. */
static void expect_serves(const char *path)
{
    struct rs_client *c = NULL;
    char *err = NULL;
    cr_assert_eq(rs_client_connect(path, NULL, &c, &err), RS_CLIENT_OK, "%s", err ? err : "?");
    cr_expect_eq(rs_client_ping(c), RS_CLIENT_OK);
    rs_client_close(c);
}

Test(lifecycle, sigterm_exits_0_and_removes_the_socket, .init = setup, .fini = teardown)
{
    cr_assert_eq(daemon_proc_start(&d1, NULL), 0);
    int fd = wire_connect(d1.socket);
    cr_assert_geq(fd, 0);
    cr_assert_eq(wire_handshake(fd), 0);
    struct rs_client *c = NULL;
    char *err = NULL;
    cr_assert_eq(rs_client_connect(d1.socket, NULL, &c, &err), RS_CLIENT_OK);
    cr_expect_eq(rs_client_process(c, 0), RS_CLIENT_OK, "nothing has arrived yet");

    cr_assert_eq(kill(d1.pid, SIGTERM), 0);
    /* The clients are told and closed. */
    cr_expect(wire_expect_error(fd, "shutting_down", 0));
    cr_expect(wire_closed(fd, WIRE_TIMEOUT_MS));
    close(fd);
    struct pollfd p = {.fd = rs_client_fd(c), .events = POLLIN};
    cr_assert_eq(poll(&p, 1, WIRE_TIMEOUT_MS), 1);
    cr_expect_eq(rs_client_process(c, p.revents), RS_CLIENT_E_SERVER, "%s", rs_client_errmsg(c));
    cr_expect(rs_client_error_code(c) != NULL &&
              strcmp(rs_client_error_code(c), "shutting_down") == 0);
    cr_expect_eq(rs_client_ping(c), RS_CLIENT_E_IO, "a dropped client must stay failed");
    rs_client_close(c);
    int st = daemon_proc_wait(&d1, DAEMON_PROC_TIMEOUT_MS);
    cr_expect(exited_with(st, 0), "exit status %#x", st);
    struct stat sb;
    cr_expect_neq(lstat(d1.socket, &sb), 0, "socket file left behind");
    cr_expect(daemon_proc_log_has(&d1, "stopping (SIGTERM)"));
}

Test(lifecycle, sigint_also_stops_gracefully, .init = setup, .fini = teardown)
{
    cr_assert_eq(daemon_proc_start(&d1, NULL), 0);
    cr_assert_eq(kill(d1.pid, SIGINT), 0);
    cr_expect(exited_with(daemon_proc_wait(&d1, DAEMON_PROC_TIMEOUT_MS), 0));
}

Test(lifecycle, modes_are_private_even_under_umask_000, .init = setup, .fini = teardown)
{
    char sock[128];
    snprintf(sock, sizeof(sock), "%s/run/reseolio.sock", d1.dir);
    struct daemon_opts o = {.socket = sock, .umask_000 = true};
    cr_assert_eq(daemon_proc_start(&d1, &o), 0);

    struct stat sb;
    cr_assert_eq(lstat(sock, &sb), 0);
    cr_expect(S_ISSOCK(sb.st_mode));
    cr_expect_eq(sb.st_mode & 07777, 0600, "socket mode %o", sb.st_mode & 07777);
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/run", d1.dir);
    cr_assert_eq(lstat(dir, &sb), 0);
    cr_expect_eq(sb.st_mode & 07777, 0700, "directory mode %o", sb.st_mode & 07777);
    expect_serves(sock);
    cr_expect(exited_with(daemon_proc_stop(&d1), 0));
}

Test(lifecycle, shared_writable_directory_is_refused, .init = setup, .fini = teardown)
{
    char dir[128], sock[160];
    snprintf(dir, sizeof(dir), "%s/open", d1.dir);
    cr_assert_eq(mkdir(dir, 0700), 0);
    cr_assert_eq(chmod(dir, 0777), 0);
    snprintf(sock, sizeof(sock), "%s/reseolio.sock", dir);
    const char *const args[] = {"--socket", sock, NULL};
    expect_exit(args, NULL, 1, "writable by group or others");
}

Test(lifecycle, stale_socket_after_sigkill_is_replaced, .init = setup, .fini = teardown)
{
    cr_assert_eq(daemon_proc_start(&d1, NULL), 0);
    daemon_proc_kill(&d1);
    struct stat sb;
    cr_assert_eq(lstat(d1.socket, &sb), 0, "SIGKILL should leave the socket file");

    cr_assert_eq(daemon_proc_start(&d1, NULL), 0, "did not start over a stale socket");
    cr_expect(daemon_proc_log_has(&d1, "removed stale socket"));
    expect_serves(d1.socket);
    cr_expect(exited_with(daemon_proc_stop(&d1), 0));
}

Test(lifecycle, stale_socket_file_without_lock_is_replaced, .init = setup, .fini = teardown)
{
    /* A socket bound and abandoned by someone else: nobody listens on it. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", d1.socket);
    cr_assert_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    close(fd);

    cr_assert_eq(daemon_proc_start(&d1, NULL), 0);
    cr_expect(daemon_proc_log_has(&d1, "removed stale socket"));
    expect_serves(d1.socket);
}

Test(lifecycle, a_file_that_is_not_a_socket_is_left_alone, .init = setup, .fini = teardown)
{
    FILE *f = fopen(d1.socket, "w");
    cr_assert_not_null(f);
    fputs("precious", f);
    fclose(f);
    const char *const args[] = {"--socket", d1.socket, NULL};
    expect_exit(args, NULL, 1, "is not a socket");
    struct stat sb;
    cr_expect_eq(lstat(d1.socket, &sb), 0);
    cr_expect(S_ISREG(sb.st_mode));
}

Test(lifecycle, second_daemon_on_the_same_socket_refuses, .init = setup, .fini = teardown)
{
    cr_assert_eq(daemon_proc_start(&d1, NULL), 0);
    const char *const args[] = {"--socket", d1.socket, NULL};
    expect_exit(args, NULL, 1, "another reseoliod");
    /* The first one is untouched. */
    expect_serves(d1.socket);
    cr_expect(exited_with(daemon_proc_stop(&d1), 0));
}

Test(lifecycle, bad_settings_exit_2, .init = setup, .fini = teardown)
{
    const char *const frame[] = {"--max-frame", "100", NULL};
    expect_exit(frame, NULL, 2, "--max-frame");
    const char *const level[] = {"--log-level", "loud", NULL};
    expect_exit(level, NULL, 2, "--log-level");
    const char *const conns[] = {"--max-connections", "0", NULL};
    expect_exit(conns, NULL, 2, "--max-connections");
    const char *const schema[] = {"--schema", "drop table", NULL};
    expect_exit(schema, NULL, 2, "--schema");
    const char *const vacuum[] = {"--vacuum-warn-s", "86401", NULL};
    expect_exit(vacuum, NULL, 2, "--vacuum-warn-s");
    const char *const unknown[] = {"--bogus", NULL};
    expect_exit(unknown, NULL, 2, "--bogus");
    const char *const storage[] = {"--storage", "host='unterminated password=hunter2", NULL};
    expect_exit(storage, NULL, 2, "--storage");
    cr_expect(!daemon_proc_log_has(&d2, "hunter2"), "a password reached the log");
    const char *const env[] = {"RESEOLIO_MAX_FRAME=lots", NULL};
    expect_exit(NULL, env, 2, "RESEOLIO_MAX_FRAME");
}

Test(lifecycle, flags_beat_environment, .init = setup, .fini = teardown)
{
    const char *const env[] = {"RESEOLIO_MAX_FRAME=8192", NULL};
    const char *const args[] = {"--max-frame", "16384", NULL};
    struct daemon_opts o = {.args = args, .env = env};
    cr_assert_eq(daemon_proc_start(&d1, &o), 0);
    struct rs_client *c = NULL;
    char *err = NULL;
    cr_assert_eq(rs_client_connect(d1.socket, NULL, &c, &err), RS_CLIENT_OK);
    cr_expect_eq(rs_client_welcome(c)->max_frame, 16384);
    rs_client_close(c);

    struct daemon_opts o2 = {.env = env};
    cr_assert_eq(daemon_proc_start(&d2, &o2), 0);
    cr_assert_eq(rs_client_connect(d2.socket, NULL, &c, &err), RS_CLIENT_OK);
    cr_expect_eq(rs_client_welcome(c)->max_frame, 8192);
    rs_client_close(c);
}

Test(lifecycle, socket_from_environment, .init = setup, .fini = teardown)
{
    char env_socket[160];
    snprintf(env_socket, sizeof(env_socket), "RESEOLIO_SOCKET=%s", d1.socket);
    const char *const env[] = {env_socket, NULL};
    struct daemon_opts o = {.env = env, .no_socket_flag = true};
    cr_assert_eq(daemon_proc_start(&d1, &o), 0);
    expect_serves(d1.socket);
}

Test(lifecycle, password_never_logged, .init = setup, .fini = teardown)
{
    /* The harness's database (the daemon connects at start), named with a password. */
    const char *pg = getenv("RESEOLIO_TEST_PG");
    char host[256], storage[512], shown[512];
    cr_assert(pg != NULL && sscanf(pg, "host=%255s", host) == 1, "run under with-postgres");
    snprintf(storage, sizeof(storage), "host=%s dbname=postgres user=postgres password=hunter2",
             host);
    snprintf(shown, sizeof(shown), "postgresql://postgres@%s:5432/postgres", host);
    const char *const args[] = {"--storage", storage, NULL};
    struct daemon_opts o = {.args = args};
    cr_assert_eq(daemon_proc_start(&d1, &o), 0);
    struct rs_client *c = NULL;
    char *err = NULL;
    cr_assert_eq(rs_client_connect(d1.socket, NULL, &c, &err), RS_CLIENT_OK);
    cr_expect_str_eq(rs_client_welcome(c)->storage, shown);
    rs_client_close(c);
    cr_expect(exited_with(daemon_proc_stop(&d1), 0));
    cr_expect(daemon_proc_log_has(&d1, shown));
    cr_expect(!daemon_proc_log_has(&d1, "hunter2"), "a password reached the log");
}

Test(lifecycle, help_and_version_exit_0, .init = setup, .fini = teardown)
{
    const char *const help[] = {"--help", NULL};
    expect_exit(help, NULL, 0, NULL);
    const char *const version[] = {"--version", NULL};
    expect_exit(version, NULL, 0, NULL);
}

Test(lifecycle, another_uid_is_refused_even_on_a_widened_socket, .init = setup, .fini = teardown)
{
    cr_assert_eq(geteuid(), 0, "connecting as another uid needs root (CI is)");
    cr_assert_eq(daemon_proc_start(&d1, NULL), 0);
    /* Widen by hand what the daemon made private, so only its own check is left. */
    cr_assert_eq(chmod(d1.dir, 0711), 0);
    cr_assert_eq(chmod(d1.socket, 0666), 0);

    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(3);
        int fd = wire_connect(d1.socket);
        if (fd < 0)
            _exit(4);
        /* Closed without a word: no frame, just the end of the stream. */
        _exit(wire_closed(fd, WIRE_TIMEOUT_MS) ? 0 : 5);
    }
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_expect(exited_with(st, 0), "child status %#x", st);
    cr_expect(daemon_proc_wait_log(&d1, "is neither ours", WIRE_TIMEOUT_MS));
    expect_serves(d1.socket);
}
