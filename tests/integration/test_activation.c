/*
 * Socket activation: reseoliod started the way systemd starts it (a listening socket on fd 3,
 * LISTEN_PID and LISTEN_FDS set) serves that socket, leaves its file in place at stop, and
 * refuses a wrong hand-over. Without an allow-list the socket's mode decides who connects;
 * with one (--allow-uid) the daemon checks every peer on the inherited socket too.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wire.h"

static char dir[64];
static char sock_path[108], log_path[128], other_sock[108];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/rs-act-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(sock_path, sizeof(sock_path), "%s/activated.sock", dir);
    snprintf(other_sock, sizeof(other_sock), "%s/flag.sock", dir);
    snprintf(log_path, sizeof(log_path), "%s/daemon.log", dir);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

/* A listening Unix socket at path, as the service manager would make it (mode 0660). */
static int make_listener(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0, "%s", strerror(errno));
    cr_assert_eq(chmod(path, 0660), 0);
    cr_assert_eq(listen(fd, 16), 0);
    return fd;
}

/* fork, put fd on 3, set LISTEN_PID (the child's pid) and listen_fds, exec reseoliod with
 * one more flag and its value when flag is not NULL. */
static pid_t spawn_with(int fd, const char *listen_fds, const char *flag, const char *value)
{
    const char *bin = getenv("RESEOLIOD");
    const char *pg = getenv("RESEOLIO_TEST_PG");
    cr_assert_not_null(bin);
    cr_assert_not_null(pg);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (logfd < 0 || dup2(logfd, 2) < 0 || dup2(fd, 3) < 0)
            _exit(120);
        char pidbuf[32];
        snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)getpid());
        setenv("LISTEN_PID", pidbuf, 1);
        setenv("LISTEN_FDS", listen_fds, 1);
        setenv("RESEOLIO_STORAGE", pg, 1);
        char state[128];
        snprintf(state, sizeof(state), "%s/state", dir);
        setenv("RESEOLIO_STATE_DIR", state, 1);
        if (flag != NULL)
            execl(bin, bin, "--socket", other_sock, "--shutdown-grace-ms", "0", flag, value,
                  (char *)NULL);
        else
            execl(bin, bin, "--socket", other_sock, "--shutdown-grace-ms", "0", (char *)NULL);
        _exit(121);
    }
    return pid;
}

static pid_t spawn(int fd, const char *listen_fds)
{
    return spawn_with(fd, listen_fds, NULL, NULL);
}

/* Wait until the log holds needle; false after 20 s. */
static bool wait_log(const char *needle)
{
    for (int i = 0; i < 400; i++) {
        FILE *f = fopen(log_path, "r");
        if (f != NULL) {
            char buf[65536];
            size_t n = fread(buf, 1, sizeof(buf) - 1, f);
            fclose(f);
            buf[n] = '\0';
            if (strstr(buf, needle) != NULL)
                return true;
        }
        usleep(50 * 1000);
    }
    return false;
}

static int wait_exit(pid_t pid)
{
    for (int i = 0; i < 400; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return st;
        usleep(50 * 1000);
    }
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    return -1;
}

Test(activation, serves_the_inherited_socket, .init = setup, .fini = teardown)
{
    int lfd = make_listener(sock_path);
    pid_t pid = spawn(lfd, "1");
    close(lfd);
    cr_assert(wait_log("ready: listening on"), "the daemon did not get ready");
    cr_expect(wait_log("(socket activation)"));

    int fd = wire_connect(sock_path);
    cr_assert_geq(fd, 0);
    cr_expect_eq(wire_handshake(fd), 0, "no WELCOME through the inherited socket");
    close(fd);
    /* --socket was not used. */
    struct stat st;
    cr_expect_neq(lstat(other_sock, &st), 0);

    kill(pid, SIGTERM);
    int status = wait_exit(pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    /* The socket file is the service manager's: still there. */
    cr_expect_eq(lstat(sock_path, &st), 0);
    cr_expect(S_ISSOCK(st.st_mode));
}

Test(activation, refuses_several_sockets, .init = setup, .fini = teardown)
{
    int lfd = make_listener(sock_path);
    pid_t pid = spawn(lfd, "2");
    close(lfd);
    int status = wait_exit(pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
    cr_expect(wait_log("exactly one"));
}

Test(activation, ignores_variables_for_another_pid, .init = setup, .fini = teardown)
{
    /* LISTEN_PID names another process: the daemon makes its own socket. */
    setenv("LISTEN_PID", "1", 1);
    setenv("LISTEN_FDS", "1", 1);
    const char *bin = getenv("RESEOLIOD");
    const char *pg = getenv("RESEOLIO_TEST_PG");
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (logfd < 0 || dup2(logfd, 2) < 0)
            _exit(120);
        setenv("RESEOLIO_STORAGE", pg, 1);
        execl(bin, bin, "--socket", other_sock, (char *)NULL);
        _exit(121);
    }
    cr_assert(wait_log("ready: listening on"), "the daemon did not get ready");
    int fd = wire_connect(other_sock);
    cr_assert_geq(fd, 0);
    cr_expect_eq(wire_handshake(fd), 0);
    close(fd);
    kill(pid, SIGTERM);
    int status = wait_exit(pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
}

/* Socket activation with a socket everyone may open (0666 in a directory others may pass):
 * returns the daemon's pid once it is ready. flag and value as for spawn_with. */
static pid_t spawn_open_socket(const char *flag, const char *value)
{
    cr_assert_eq(geteuid(), 0, "connecting as other uids needs root (CI is)");
    cr_assert_eq(chmod(dir, 0711), 0);
    int lfd = make_listener(sock_path);
    cr_assert_eq(chmod(sock_path, 0666), 0);
    pid_t pid = spawn_with(lfd, "1", flag, value);
    close(lfd);
    cr_assert(wait_log("ready: listening on"), "the daemon did not get ready");
    return pid;
}

Test(activation, allow_list_applies_to_the_inherited_socket, .init = setup, .fini = teardown)
{
    pid_t pid = spawn_open_socket("--allow-uid", "65533");
    int st = 0;
    cr_expect_eq(wire_try_as(sock_path, 65533, 65533, NULL, 0, &st), WIRE_SEEN_WELCOME,
                 "the listed uid was not served (status %#x)", st);
    cr_expect_eq(wire_try_as(sock_path, 65532, 65532, NULL, 0, &st), WIRE_SEEN_CLOSED,
                 "an unlisted uid was not closed (status %#x)", st);
    cr_expect(wait_log("uid 65532 (gid 65532) is not ours"), "the refusal was not logged");
    int fd = wire_connect(sock_path);
    cr_assert_geq(fd, 0);
    cr_expect_eq(wire_handshake(fd), 0, "root was refused");
    close(fd);
    kill(pid, SIGTERM);
    int status = wait_exit(pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
}

Test(activation, without_a_list_the_sockets_mode_decides, .init = setup, .fini = teardown)
{
    /* Whoever the socket's mode lets in is served: the unit's SocketMode and SocketGroup are
     * the policy. */
    pid_t pid = spawn_open_socket(NULL, NULL);
    int st = 0;
    cr_expect_eq(wire_try_as(sock_path, 65532, 65532, NULL, 0, &st), WIRE_SEEN_WELCOME,
                 "status %#x", st);
    kill(pid, SIGTERM);
    int status = wait_exit(pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
}
