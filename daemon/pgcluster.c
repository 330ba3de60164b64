/*
 * The daemon's private PostgreSQL cluster: initdb on the first start, pg_ctl start and stop,
 * run as an unprivileged user when the daemon is root. See pgcluster.h for the layout and why.
 */
#include "pgcluster.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Seconds pg_ctl waits for the server to be ready: crash recovery of a big WAL takes a while. */
#define PGC_START_WAIT_S "120"
/* Seconds pg_ctl waits for a fast shutdown before we fall back to an immediate one. */
#define PGC_STOP_WAIT_S "60"
/* How long a server of this cluster that is already running may take to accept connections. */
#define PGC_REUSE_WAIT_MS 120000
/* Where Debian and Ubuntu install each PostgreSQL major version: <root>/<major>/bin. */
#define PGC_VERSIONS_ROOT "/usr/lib/postgresql"
/* The file of our own settings inside the cluster, included last by postgresql.conf. */
#define PGC_CONF_NAME "reseolio.conf"

static const char pgc_include_line[] = "include = '" PGC_CONF_NAME "'";

static const char pgc_install_hint[] =
    "install the PostgreSQL server (Debian/Ubuntu: apt-get install postgresql), set "
    "RESEOLIO_PG_BIN to the directory that holds initdb and pg_ctl, or give --storage to use a "
    "PostgreSQL of your own";

/* Format a message into err and return -1, so that failures read `return pgc_fail(...)`. */
__attribute__((format(printf, 3, 4))) static int pgc_fail(char *err, size_t errlen, const char *fmt,
                                                          ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* dir + "/" + name into buf; -1 when it does not fit. */
static int pgc_path(char *buf, size_t size, const char *dir, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", dir, name);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* Milliseconds on the monotonic clock. */
static long long pgc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep ms milliseconds (signals may cut it short; callers loop on a deadline). */
static void pgc_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Write a string to fd 2 from a forked child (write is async-signal-safe, stdio is not). */
static void pgc_child_say(const char *s)
{
    ssize_t r = write(STDERR_FILENO, s, strlen(s));
    (void)r; /* nowhere left to report a failure to */
}

/*
 * In a forked child: set up fds 0-2, drop to the cluster's owner when asked, and exec. Only
 * async-signal-safe calls until execve, since the parent may have threads (criterion's do).
 * Never returns: 126 when the set-up failed, 127 when execve did.
 */
static _Noreturn void pgc_child_exec(const struct pgcluster *drop, const char *const argv[],
                                     char *const envp[], int in_fd, int out_fd, int err_fd)
{
    /* The daemon ignores SIGPIPE and libevent may block signals: neither is for the child. */
    sigset_t none;
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    sigaction(SIGPIPE, &dfl, NULL);

    /* Lift the sources above 2 first, so that no dup2 below overwrites another's source. */
    int in = fcntl(in_fd, F_DUPFD, 3), out = fcntl(out_fd, F_DUPFD, 3);
    int errfd = fcntl(err_fd, F_DUPFD, 3);
    if (in < 0 || out < 0 || errfd < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0)
        _exit(126);
    /* No daemon fd (its socket, its lock) may live on in a server that outlives the daemon. */
    closefrom(3);

    if (drop != NULL && drop->drop_user &&
        (setgroups(1, &drop->gid) != 0 || setgid(drop->gid) != 0 || setuid(drop->uid) != 0)) {
        pgc_child_say("reseoliod: could not switch to the cluster's owner\n");
        _exit(126);
    }
    /* Our cwd may be unreadable for that user; initdb and pg_ctl complain about that. */
    if (chdir("/") != 0)
        _exit(126);
    execve(argv[0], (char *const *)argv, envp);
    pgc_child_say("reseoliod: could not run ");
    pgc_child_say(argv[0]);
    pgc_child_say("\n");
    _exit(127);
}

/*
 * Start argv (argv[0] an absolute path) with stdin from /dev/null and stdout and stderr to
 * out_fd and err_fd (-1: /dev/null); as the cluster's owner when drop says so. Returns the
 * child's pid, or -1.
 */
static pid_t pgc_spawn(const struct pgcluster *drop, const char *const argv[], int out_fd,
                       int err_fd)
{
    /*
     * A fixed environment: PG* variables of the daemon's own (PGPORT, PGDATA, PGOPTIONS...)
     * must not change what the cluster does; LC_ALL=C keeps the log in one language. TZ is
     * passed on so that initdb records the zone the host runs in.
     */
    char tz[128];
    char *envp[4];
    size_t n = 0;
    const char *tzval = getenv("TZ");
    envp[n++] = (char *)"PATH=/usr/bin:/bin";
    envp[n++] = (char *)"LC_ALL=C";
    if (tzval != NULL && snprintf(tz, sizeof(tz), "TZ=%s", tzval) < (int)sizeof(tz))
        envp[n++] = tz;
    envp[n] = NULL;

    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0)
        pgc_child_exec(drop, argv, envp, devnull, out_fd >= 0 ? out_fd : devnull,
                       err_fd >= 0 ? err_fd : devnull);
    close(devnull);
    return pid;
}

/* Wait for pid; its exit status, 128+N when signal N killed it, or -1 when waiting failed. */
static int pgc_wait(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return -1;
}

/* pgc_spawn and pgc_wait: run argv to its end. */
static int pgc_run(const struct pgcluster *drop, const char *const argv[], int out_fd, int err_fd)
{
    pid_t pid = pgc_spawn(drop, argv, out_fd, err_fd);
    return pid < 0 ? -1 : pgc_wait(pid);
}

/*
 * Run argv as ourselves and keep the start of its stdout in buf (NUL-terminated, trailing
 * white space removed; the rest is read and dropped). Returns the exit status as pgc_wait.
 */
static int pgc_capture(const char *const argv[], char *buf, size_t size)
{
    int fds[2];
    size_t len = 0;
    buf[0] = '\0';
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = pgc_spawn(NULL, argv, fds[1], -1);
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return -1;
    }
    for (;;) {
        char chunk[512];
        ssize_t r = read(fds[0], chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        size_t take = (size_t)r < size - 1 - len ? (size_t)r : size - 1 - len;
        memcpy(buf + len, chunk, take);
        len += take;
    }
    close(fds[0]);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' ' || buf[len - 1] == '\r'))
        len--;
    buf[len] = '\0';
    return pgc_wait(pid);
}

/* True when dir holds the server programs we run. */
static bool pgc_has_programs(const char *dir)
{
    static const char *const progs[] = {"initdb", "pg_ctl", "postgres"};
    char path[PATH_MAX];
    for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
        if (pgc_path(path, sizeof(path), dir, progs[i]) != 0 || access(path, X_OK) != 0)
            return false;
    }
    return true;
}

/* The major version of <bindir>/postgres, from `postgres -V` ("postgres (PostgreSQL) 15.4"). */
static int pgc_bin_major(const char *bindir)
{
    char exe[PATH_MAX], out[256];
    if (pgc_path(exe, sizeof(exe), bindir, "postgres") != 0)
        return -1;
    const char *const argv[] = {exe, "-V", NULL};
    if (pgc_capture(argv, out, sizeof(out)) != 0)
        return -1;
    const char *v = strstr(out, "(PostgreSQL) ");
    if (v == NULL)
        return -1;
    long major = strtol(v + strlen("(PostgreSQL) "), NULL, 10);
    return major > 0 && major < 1000 ? (int)major : -1;
}

/* `pg_config --bindir`, pg_config found on $PATH. Returns 0 with the directory in buf, or -1. */
static int pgc_pg_config_bindir(char *buf, size_t size)
{
    const char *path = getenv("PATH");
    if (path == NULL || path[0] == '\0')
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path != '\0') {
        size_t seg = strcspn(path, ":");
        char exe[PATH_MAX];
        /* An empty entry means the cwd: never run a program picked up from there. */
        if (seg > 0 && path[0] == '/' &&
            snprintf(exe, sizeof(exe), "%.*s/pg_config", (int)seg, path) < (int)sizeof(exe) &&
            access(exe, X_OK) == 0) {
            const char *const argv[] = {exe, "--bindir", NULL};
            return pgc_capture(argv, buf, size) == 0 && buf[0] == '/' ? 0 : -1;
        }
        path += seg;
        if (*path == ':')
            path++;
    }
    return -1;
}

/*
 * The /usr/lib/postgresql/<major>/bin that holds the programs: <want> when there is one
 * (want > 0), else the highest. Returns 0 with the directory in buf, or -1 when none does.
 */
static int pgc_scan_bindir(int want, char *buf, size_t size)
{
    DIR *d = opendir(PGC_VERSIONS_ROOT);
    if (d == NULL)
        return -1;
    long best = -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end, dir[PATH_MAX];
        long v = strtol(e->d_name, &end, 10);
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || *end != '\0' || v <= 0 ||
            snprintf(dir, sizeof(dir), PGC_VERSIONS_ROOT "/%ld/bin", v) >= (int)sizeof(dir) ||
            !pgc_has_programs(dir))
            continue;
        if (best != want && (v == want || v > best))
            best = v;
    }
    closedir(d);
    if (best < 0)
        return -1;
    int n = snprintf(buf, size, PGC_VERSIONS_ROOT "/%ld/bin", best);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/*
 * Choose pc->bindir: the one given (opts, then $RESEOLIO_PG_BIN) or else found; want is the
 * major version of an existing cluster (0: none yet), preferred when several are installed.
 */
static int pgc_find_bindir(struct pgcluster *pc, const char *given, int want, char *err,
                           size_t errlen)
{
    const char *origin = "the PostgreSQL bin directory ";
    if (given == NULL || given[0] == '\0') {
        given = getenv("RESEOLIO_PG_BIN");
        origin = "RESEOLIO_PG_BIN=";
    }
    if (given != NULL && given[0] != '\0') {
        if (!pgc_has_programs(given))
            return pgc_fail(err, errlen, "%s%s has no initdb, pg_ctl and postgres: %s", origin,
                            given, pgc_install_hint);
        int n = snprintf(pc->bindir, sizeof(pc->bindir), "%s", given);
        if (n < 0 || (size_t)n >= sizeof(pc->bindir))
            return pgc_fail(err, errlen, "%s%s is too long", origin, given);
        return 0;
    }

    char cfg[sizeof(pc->bindir)];
    bool have_cfg = pgc_pg_config_bindir(cfg, sizeof(cfg)) == 0 && pgc_has_programs(cfg);
    if (have_cfg && (want == 0 || pgc_bin_major(cfg) == want)) {
        memcpy(pc->bindir, cfg, sizeof(cfg));
        return 0;
    }
    if (pgc_scan_bindir(want, pc->bindir, sizeof(pc->bindir)) == 0)
        return 0;
    if (have_cfg) { /* the wrong version: the caller's version check says so */
        memcpy(pc->bindir, cfg, sizeof(cfg));
        return 0;
    }
    return pgc_fail(err, errlen,
                    "no PostgreSQL server programs found (RESEOLIO_PG_BIN is not set, pg_config "
                    "--bindir names none, " PGC_VERSIONS_ROOT "/*/bin has none): %s",
                    pgc_install_hint);
}

/*
 * Copy src into dst inside a quoted value, escaping backslashes and single quotes: libpq's
 * conninfo wants \' (quote_escape '\\'), postgresql.conf accepts '' (quote_escape '\'').
 * Returns -1 when it does not fit.
 */
static int pgc_quote(char *dst, size_t size, const char *src, char quote_escape)
{
    size_t n = 0;
    for (; *src != '\0'; src++) {
        if (*src == '\\' || *src == '\'') {
            if (n + 1 >= size)
                return -1;
            dst[n++] = *src == '\\' ? '\\' : quote_escape;
        }
        if (n + 1 >= size)
            return -1;
        dst[n++] = *src;
    }
    dst[n] = '\0';
    return 0;
}

/* A libpq conninfo for dbname in the cluster, into buf. */
static int pgc_conninfo(const struct pgcluster *pc, const char *dbname, char *buf, size_t size)
{
    char host[2 * sizeof(pc->sockdir)], user[2 * sizeof(pc->user)];
    if (pgc_quote(host, sizeof(host), pc->sockdir, '\\') != 0 ||
        pgc_quote(user, sizeof(user), pc->user, '\\') != 0)
        return -1;
    int n = snprintf(buf, size, "host='%s' port=%d dbname=%s user='%s'", host, PGCLUSTER_PORT,
                     dbname, user);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* The size of the cluster's log now, to find later what a program added to it. */
static off_t pgc_log_mark(const struct pgcluster *pc)
{
    struct stat st;
    return stat(pc->logfile, &st) == 0 ? st.st_size : 0;
}

/* True when a log line says why something failed (PostgreSQL's and its programs' wording). */
static bool pgc_log_says_why(const char *line)
{
    return strstr(line, "FATAL:") != NULL || strstr(line, "PANIC:") != NULL ||
           strstr(line, "ERROR:") != NULL || strstr(line, "error:") != NULL;
}

/*
 * For error messages: what the log gained since mark says about the failure, its last FATAL,
 * PANIC or error line, else its last non-empty line. Empty when it gained nothing.
 */
static void pgc_log_tail(const struct pgcluster *pc, off_t mark, char *buf, size_t size)
{
    char tail[4096];
    buf[0] = '\0';
    int fd = open(pc->logfile, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    off_t end = lseek(fd, 0, SEEK_END);
    off_t from = end - mark > (off_t)sizeof(tail) - 1 ? end - (off_t)sizeof(tail) + 1 : mark;
    ssize_t r = end > from ? pread(fd, tail, (size_t)(end - from), from) : 0;
    close(fd);
    if (r <= 0)
        return;
    tail[r] = '\0';
    const char *last = NULL, *why = NULL;
    for (char *line = tail, *next; line != NULL; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        line[strcspn(line, "\r")] = '\0';
        if (line[0] == '\0')
            continue;
        last = line;
        if (pgc_log_says_why(line))
            why = line;
    }
    const char *pick = why != NULL ? why : last != NULL ? last : "";
    size_t n = strlen(pick) < size - 1 ? strlen(pick) : size - 1; /* cut long lines */
    memcpy(buf, pick, n);
    buf[n] = '\0';
}

/* Say that a program failed, where its output went, and what it said there since mark. */
static int pgc_fail_program(const struct pgcluster *pc, const char *what, int status, off_t mark,
                            char *err, size_t errlen)
{
    char said[256];
    int e = errno;
    pgc_log_tail(pc, mark, said, sizeof(said));
    if (status < 0)
        return pgc_fail(err, errlen, "%s: could not run it: %s", what, strerror(e));
    return pgc_fail(err, errlen, "%s failed (exit status %d); see %s, which says: %s", what, status,
                    pc->logfile, said[0] != '\0' ? said : "nothing");
}

/* The OS user that owns and runs the cluster: ourselves, or postgres when we are root. */
static int pgc_resolve_user(struct pgcluster *pc, char *err, size_t errlen)
{
    uid_t euid = geteuid();
    struct passwd *pw;
    if (euid == 0) {
        pw = getpwnam(PGCLUSTER_ROOT_RUN_AS);
        if (pw == NULL)
            return pgc_fail(err, errlen,
                            "reseoliod runs as root and PostgreSQL refuses to, but there is no "
                            "'" PGCLUSTER_ROOT_RUN_AS "' user to run the private cluster as: "
                            "install the PostgreSQL server, which creates it (Debian/Ubuntu: "
                            "apt-get install postgresql), run reseoliod as an ordinary user, or "
                            "give --storage");
        if (pw->pw_uid == 0)
            return pgc_fail(err, errlen,
                            "user '" PGCLUSTER_ROOT_RUN_AS "' has uid 0; PostgreSQL will not "
                            "run as it");
        pc->drop_user = true;
    } else {
        pw = getpwuid(euid);
        if (pw == NULL)
            return pgc_fail(err, errlen,
                            "uid %lu has no user name (no passwd entry), and the private "
                            "PostgreSQL needs one",
                            (unsigned long)euid);
    }
    int n = snprintf(pc->user, sizeof(pc->user), "%s", pw->pw_name);
    if (n < 0 || (size_t)n >= sizeof(pc->user))
        return pgc_fail(err, errlen, "user name %s is too long", pw->pw_name);
    pc->uid = pw->pw_uid;
    pc->gid = pw->pw_gid;
    return 0;
}

/* mkdir -p: each missing directory made with mode; existing ones are left as they are. */
static int pgc_mkdirs(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%s", path);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(tmp, mode) != 0 && errno != EEXIST ? -1 : 0;
}

/* Make the state directory when missing, settle its absolute path and the paths inside it. */
static int pgc_resolve_state_dir(struct pgcluster *pc, const char *given, char *err, size_t errlen)
{
    char dflt[PATH_MAX], real[PATH_MAX];
    if (given == NULL || given[0] == '\0') {
        if (pgcluster_default_state_dir(dflt, sizeof(dflt)) != 0)
            return pgc_fail(err, errlen,
                            "no state directory: HOME is not set; give --state-dir or "
                            "RESEOLIO_STATE_DIR");
        given = dflt;
    }
    /* Searchable by others when we are root: the cluster's owner must reach pg/ inside. */
    if (pgc_mkdirs(given, pc->drop_user ? 0711 : 0700) != 0)
        return pgc_fail(err, errlen, "cannot create the state directory %s: %s", given,
                        strerror(errno));
    /* The server and libpq need the socket directory as an absolute path. */
    if (realpath(given, real) == NULL)
        return pgc_fail(err, errlen, "state directory %s: %s", given, strerror(errno));
    if (strlen(real) > PGCLUSTER_STATE_DIR_MAX)
        return pgc_fail(err, errlen,
                        "state directory %s is too long for a Unix socket path inside it (at "
                        "most %d bytes); choose a shorter one",
                        real, PGCLUSTER_STATE_DIR_MAX);
    for (const char *c = real; *c != '\0'; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return pgc_fail(err, errlen, "state directory path has a control character");
    }
    memcpy(pc->state_dir, real, strlen(real) + 1);
    if (pgc_path(pc->pgdata, sizeof(pc->pgdata), real, "pg") != 0 ||
        pgc_path(pc->sockdir, sizeof(pc->sockdir), real, "pg-run") != 0 ||
        pgc_path(pc->logfile, sizeof(pc->logfile), real, "pg.log") != 0)
        return pgc_fail(err, errlen, "state directory path is too long");
    return 0;
}

/* Refuse a state directory that is not ours, or that others may write into. */
static int pgc_check_state_dir(const struct pgcluster *pc, char *err, size_t errlen)
{
    struct stat st;
    if (stat(pc->state_dir, &st) != 0)
        return pgc_fail(err, errlen, "state directory %s: %s", pc->state_dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return pgc_fail(err, errlen, "state directory %s is not a directory", pc->state_dir);
    if (st.st_uid != geteuid())
        return pgc_fail(err, errlen,
                        "state directory %s belongs to uid %lu, not to this daemon's user (uid "
                        "%lu); refusing to use it: give a state directory of your own "
                        "(--state-dir or RESEOLIO_STATE_DIR)",
                        pc->state_dir, (unsigned long)st.st_uid, (unsigned long)geteuid());
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        return pgc_fail(err, errlen,
                        "state directory %s may be written by others (mode %04o); refusing to "
                        "use it: chmod go-w it, or give another one",
                        pc->state_dir, (unsigned)(st.st_mode & 07777));
    if (pc->drop_user && (st.st_mode & S_IXOTH) == 0) {
        if (chmod(pc->state_dir, (st.st_mode & 07777) | S_IXOTH) != 0)
            return pgc_fail(err, errlen, "cannot chmod o+x %s: %s", pc->state_dir, strerror(errno));
        log_info("private PostgreSQL: made %s searchable (o+x) so that user %s reaches the "
                 "cluster inside",
                 pc->state_dir, pc->user);
    }
    return 0;
}

/* When we are root: check that the cluster's owner can reach the state directory at all. */
static int pgc_check_reachable(const struct pgcluster *pc, char *err, size_t errlen)
{
    if (!pc->drop_user)
        return 0;
    pid_t pid = fork();
    if (pid == 0) {
        /* async-signal-safe only, as in pgc_child_exec */
        if (setgroups(1, &pc->gid) != 0 || setgid(pc->gid) != 0 || setuid(pc->uid) != 0)
            _exit(2);
        _exit(access(pc->state_dir, X_OK) == 0 ? 0 : 1);
    }
    int status = pid < 0 ? -1 : pgc_wait(pid);
    if (status == 0)
        return 0;
    if (status == 1)
        return pgc_fail(err, errlen,
                        "user %s, which runs the private PostgreSQL, cannot reach %s: a "
                        "directory above it is not searchable by others (chmod o+x it, or "
                        "choose a state directory elsewhere)",
                        pc->user, pc->state_dir);
    return pgc_fail(err, errlen, "cannot check whether user %s reaches %s", pc->user,
                    pc->state_dir);
}

/* Take <state>/lock for as long as the cluster runs: a second daemon would stop it under us. */
static int pgc_lock(struct pgcluster *pc, char *err, size_t errlen)
{
    char path[sizeof(pc->state_dir) + 8], pid[32];
    if (pgc_path(path, sizeof(path), pc->state_dir, "lock") != 0)
        return pgc_fail(err, errlen, "state directory path is too long");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return pgc_fail(err, errlen, "cannot open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        ssize_t r = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[r > 0 ? r : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(fd);
        if (e == EWOULDBLOCK)
            return pgc_fail(err, errlen,
                            "state directory %s is in use by another reseoliod (pid %s); one "
                            "daemon per state directory",
                            pc->state_dir, pid[0] != '\0' ? pid : "unknown");
        return pgc_fail(err, errlen, "cannot lock %s: %s", path, strerror(e));
    }
    /* The pid is only for the message above; a failure to record it changes nothing. */
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
        log_warn("private PostgreSQL: cannot write our pid into %s: %s", path, strerror(errno));
    pc->lock_fd = fd;
    return 0;
}

/* fsync a directory, so that a rename or a creation in it survives a crash. */
static int pgc_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/*
 * The PostgreSQL major version that made the cluster (its PG_VERSION): 0 when there is no
 * cluster yet; -1 with err set when pg/ is there but is not ours or not a cluster.
 */
static int pgc_check_cluster(const struct pgcluster *pc, char *err, size_t errlen)
{
    struct stat st;
    char path[sizeof(pc->pgdata) + 16], text[16];
    if (stat(pc->pgdata, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        return pgc_fail(err, errlen, "cluster %s: %s", pc->pgdata, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode))
        return pgc_fail(err, errlen, "%s is not a directory", pc->pgdata);
    if (st.st_uid != pc->uid)
        return pgc_fail(err, errlen,
                        "the cluster %s belongs to uid %lu, not to %s (uid %lu) who runs it; "
                        "refusing to use it",
                        pc->pgdata, (unsigned long)st.st_uid, pc->user, (unsigned long)pc->uid);
    if (pgc_path(path, sizeof(path), pc->pgdata, "PG_VERSION") != 0)
        return pgc_fail(err, errlen, "cluster path is too long");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t r = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);
    if (fd >= 0)
        close(fd);
    long major = r > 0 ? (text[r] = '\0', strtol(text, NULL, 10)) : 0;
    if (major <= 0)
        return pgc_fail(err, errlen,
                        "%s is there but is not a PostgreSQL cluster (no PG_VERSION); refusing "
                        "to touch it: move it away",
                        pc->pgdata);
    return (int)major;
}

/* nftw callback of pgc_remove_tree. */
static int pgc_remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* rm -rf path (not following symbolic links). */
static int pgc_remove_tree(const char *path)
{
    return nftw(path, pgc_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * First start: initdb into <state>/pg.new and rename it to pg/ when it succeeded, so that a
 * crash half-way leaves no half-made cluster that a later start would take for a real one.
 */
static int pgc_initdb(const struct pgcluster *pc, int log_fd, char *err, size_t errlen)
{
    char tmp[sizeof(pc->state_dir) + 8], initdb[PATH_MAX], user_arg[sizeof(pc->user) + 16];
    struct stat st;
    if (pgc_path(tmp, sizeof(tmp), pc->state_dir, "pg.new") != 0 ||
        pgc_path(initdb, sizeof(initdb), pc->bindir, "initdb") != 0)
        return pgc_fail(err, errlen, "path too long");
    if (lstat(tmp, &st) == 0) {
        log_warn("private PostgreSQL: removing %s, left by a first start that did not finish", tmp);
        if (pgc_remove_tree(tmp) != 0)
            return pgc_fail(err, errlen, "cannot remove %s: %s", tmp, strerror(errno));
    }
    /* Made by us: when we are root, its owner cannot create entries in the state directory. */
    if (mkdir(tmp, 0700) != 0 || (pc->drop_user && chown(tmp, pc->uid, pc->gid) != 0))
        return pgc_fail(err, errlen, "cannot create %s: %s", tmp, strerror(errno));

    snprintf(user_arg, sizeof(user_arg), "--username=%s", pc->user);
    /*
     * UTF8 with the C locale: byte-order collation cannot change under an OS upgrade (a glibc
     * collation change silently corrupts text indexes). Checksums: corruption is reported, not
     * returned as data. trust on the socket, reject on TCP: see pgcluster.h.
     */
    const char *const argv[] = {initdb,
                                "-D",
                                tmp,
                                user_arg,
                                "--encoding=UTF8",
                                "--locale=C",
                                "--auth-local=trust",
                                "--auth-host=reject",
                                "--data-checksums",
                                NULL};
    log_info("private PostgreSQL: first start, creating a PostgreSQL %d cluster in %s as user %s "
             "(initdb; output in %s)",
             pc->major, pc->pgdata, pc->user, pc->logfile);
    off_t mark = pgc_log_mark(pc);
    int status = pgc_run(pc, argv, log_fd, log_fd);
    if (status != 0) {
        int rc = pgc_fail_program(pc, "initdb", status, mark, err, errlen);
        if (pgc_remove_tree(tmp) != 0)
            log_warn("private PostgreSQL: cannot remove %s: %s", tmp, strerror(errno));
        return rc;
    }
    if (rename(tmp, pc->pgdata) != 0 || pgc_fsync_dir(pc->state_dir) != 0)
        return pgc_fail(err, errlen, "cannot rename %s to %s: %s", tmp, pc->pgdata,
                        strerror(errno));
    return 0;
}

/* Create the socket directory, or check the existing one: the cluster owner's, mode 0700. */
static int pgc_prepare_sockdir(const struct pgcluster *pc, char *err, size_t errlen)
{
    struct stat st;
    if (mkdir(pc->sockdir, 0700) != 0 && errno != EEXIST)
        return pgc_fail(err, errlen, "cannot create %s: %s", pc->sockdir, strerror(errno));
    if (lstat(pc->sockdir, &st) != 0 || !S_ISDIR(st.st_mode))
        return pgc_fail(err, errlen, "%s is not a directory", pc->sockdir);
    if (st.st_uid != pc->uid && (!pc->drop_user || chown(pc->sockdir, pc->uid, pc->gid) != 0))
        return pgc_fail(err, errlen, "%s belongs to uid %lu, not to %s; refusing to use it",
                        pc->sockdir, (unsigned long)st.st_uid, pc->user);
    /* 0700 is the whole access control of the socket (trust authentication, pgcluster.h). */
    if ((st.st_mode & 07777) != 0700 && chmod(pc->sockdir, 0700) != 0)
        return pgc_fail(err, errlen, "cannot chmod 0700 %s: %s", pc->sockdir, strerror(errno));
    return 0;
}

/* Write a whole file in the cluster atomically (temp, fsync, rename), owned by its owner. */
static int pgc_write_file(const struct pgcluster *pc, const char *name, const char *text, char *err,
                          size_t errlen)
{
    char path[sizeof(pc->pgdata) + 32], tmp[sizeof(path) + 8];
    if (pgc_path(path, sizeof(path), pc->pgdata, name) != 0 ||
        snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return pgc_fail(err, errlen, "cluster path is too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return pgc_fail(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
    size_t len = strlen(text);
    bool ok = (!pc->drop_user || fchown(fd, pc->uid, pc->gid) == 0) &&
              write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    int e = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (!ok || rename(tmp, path) != 0 || pgc_fsync_dir(pc->pgdata) != 0) {
        e = ok ? errno : e;
        unlink(tmp);
        return pgc_fail(err, errlen, "cannot write %s: %s", path, strerror(e));
    }
    return 0;
}

/*
 * Our settings, rewritten at every start so that they follow the state directory when it
 * moves; postgresql.conf includes them last, so they beat edits there (ALTER SYSTEM still
 * wins). Durability is not left to defaults a hand edit could turn off.
 */
static int pgc_write_conf(const struct pgcluster *pc, char *err, size_t errlen)
{
    char sock[2 * sizeof(pc->sockdir)], text[1024];
    if (pgc_quote(sock, sizeof(sock), pc->sockdir, '\'') != 0)
        return pgc_fail(err, errlen, "socket directory path is too long");
    int n = snprintf(text, sizeof(text),
                     "# Written by reseoliod at every start: edits here are lost. Put settings of\n"
                     "# your own in postgresql.conf, or use ALTER SYSTEM.\n"
                     "listen_addresses = ''\n"
                     "port = %d\n"
                     "unix_socket_directories = '%s'\n"
                     "unix_socket_permissions = 0700\n"
                     "fsync = on\n"
                     "synchronous_commit = on\n"
                     "full_page_writes = on\n",
                     PGCLUSTER_PORT, sock);
    if (n < 0 || (size_t)n >= sizeof(text))
        return pgc_fail(err, errlen, "settings too long");
    return pgc_write_file(pc, PGC_CONF_NAME, text, err, errlen);
}

/* Make sure postgresql.conf ends up including our settings (added once, after initdb). */
static int pgc_include_conf(const struct pgcluster *pc, char *err, size_t errlen)
{
    char path[sizeof(pc->pgdata) + 32];
    if (pgc_path(path, sizeof(path), pc->pgdata, "postgresql.conf") != 0)
        return pgc_fail(err, errlen, "cluster path is too long");
    FILE *f = fopen(path, "a+e");
    if (f == NULL)
        return pgc_fail(err, errlen, "cannot open %s: %s", path, strerror(errno));
    char line[256];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        found = strcmp(line, pgc_include_line) == 0;
    }
    bool ok = found || (fprintf(f,
                                "\n# Added by reseoliod: its own settings, last so that they "
                                "win.\n%s\n",
                                pgc_include_line) > 0 &&
                        fflush(f) == 0 && fsync(fileno(f)) == 0);
    int e = errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        e = errno;
    }
    return ok ? 0 : pgc_fail(err, errlen, "cannot append to %s: %s", path, strerror(e));
}

/* Run pg_ctl <args> -D <pgdata> as the cluster's owner; its exit status. */
static int pgc_pg_ctl(const struct pgcluster *pc, const char *const args[], size_t nargs,
                      int out_fd)
{
    char exe[PATH_MAX];
    const char *argv[16];
    size_t n = 0;
    if (pgc_path(exe, sizeof(exe), pc->bindir, "pg_ctl") != 0 || nargs > 10)
        return -1;
    argv[n++] = exe;
    for (size_t i = 0; i < nargs; i++)
        argv[n++] = args[i];
    argv[n++] = "-D";
    argv[n++] = pc->pgdata;
    argv[n] = NULL;
    return pgc_run(pc, argv, out_fd, out_fd);
}

/* The postmaster's pid from postmaster.pid, for the log; 0 when unknown. */
static long pgc_postmaster_pid(const struct pgcluster *pc)
{
    char path[sizeof(pc->pgdata) + 32], text[32];
    if (pgc_path(path, sizeof(path), pc->pgdata, "postmaster.pid") != 0)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t r = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);
    if (fd >= 0)
        close(fd);
    return r > 0 ? (text[r] = '\0', strtol(text, NULL, 10)) : 0;
}

/*
 * Start the server, or reuse one of this cluster that is already running (a daemon before us
 * was killed without stopping it: restarting would only cost its clients their sessions).
 * A server that is still starting up or shutting down is waited for.
 */
static int pgc_bring_up(const struct pgcluster *pc, int log_fd, char *err, size_t errlen)
{
    static const char *const status_args[] = {"status"};
    char admin[sizeof(pc->conninfo)];
    if (pgc_conninfo(pc, "postgres", admin, sizeof(admin)) != 0)
        return pgc_fail(err, errlen, "conninfo too long");
    long long deadline = pgc_now_ms() + PGC_REUSE_WAIT_MS;
    bool said = false;
    for (;;) {
        int st = pgc_pg_ctl(pc, status_args, 1, -1);
        if (st == 3) /* no server running */
            break;
        if (st != 0)
            return pgc_fail_program(pc, "pg_ctl status", st, pgc_log_mark(pc), err, errlen);
        if (PQping(admin) == PQPING_OK) {
            log_info("private PostgreSQL: the server of %s is already running (pid %ld), left "
                     "by an earlier daemon; reusing it",
                     pc->pgdata, pgc_postmaster_pid(pc));
            return 0;
        }
        if (pgc_now_ms() > deadline)
            return pgc_fail(err, errlen,
                            "a server of %s is running (pid %ld) but has not accepted "
                            "connections in %d s; see %s",
                            pc->pgdata, pgc_postmaster_pid(pc), PGC_REUSE_WAIT_MS / 1000,
                            pc->logfile);
        if (!said)
            log_info("private PostgreSQL: a server of %s is running (pid %ld); waiting for it "
                     "to accept connections",
                     pc->pgdata, pgc_postmaster_pid(pc));
        said = true;
        pgc_sleep_ms(200);
    }

    const char *const start_args[] = {"start", "-w", "-t", PGC_START_WAIT_S, "-l", pc->logfile};
    log_info("private PostgreSQL: starting PostgreSQL %d in %s as user %s (server log %s)",
             pc->major, pc->pgdata, pc->user, pc->logfile);
    off_t mark = pgc_log_mark(pc);
    int st = pgc_pg_ctl(pc, start_args, sizeof(start_args) / sizeof(start_args[0]), log_fd);
    if (st != 0)
        return pgc_fail_program(pc, "starting PostgreSQL (pg_ctl start)", st, mark, err, errlen);
    return 0;
}

/* Create the daemon's database on the first start; later starts find it there. */
static int pgc_create_db(const struct pgcluster *pc, char *err, size_t errlen)
{
    char admin[sizeof(pc->conninfo)];
    if (pgc_conninfo(pc, "postgres", admin, sizeof(admin)) != 0)
        return pgc_fail(err, errlen, "conninfo too long");
    PGconn *c = PQconnectdb(admin);
    if (PQstatus(c) != CONNECTION_OK) {
        pgc_fail(err, errlen, "cannot connect to the private PostgreSQL: %s", PQerrorMessage(c));
        err[strcspn(err, "\n")] = '\0';
        PQfinish(c);
        return -1;
    }
    const char *const params[] = {PGCLUSTER_DBNAME};
    PGresult *r = PQexecParams(c, "SELECT 1 FROM pg_database WHERE datname = $1", 1, NULL, params,
                               NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = pgc_fail(err, errlen, "cannot list databases: %s", PQresultErrorMessage(r));
    } else if (PQntuples(r) == 0) {
        PQclear(r);
        r = PQexec(c, "CREATE DATABASE " PGCLUSTER_DBNAME);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = pgc_fail(err, errlen, "cannot create database " PGCLUSTER_DBNAME ": %s",
                          PQresultErrorMessage(r));
        else
            log_info("private PostgreSQL: created database " PGCLUSTER_DBNAME);
    }
    if (rc != 0)
        err[strcspn(err, "\n")] = '\0'; /* libpq's messages end in a newline */
    PQclear(r);
    PQfinish(c);
    return rc;
}

/* The default state directory rule of pgcluster.h. */
int pgcluster_default_state_dir(char *buf, size_t size)
{
    const char *env = getenv("RESEOLIO_STATE_DIR");
    const char *xdg = getenv("XDG_STATE_HOME");
    int n;
    if (env != NULL && env[0] != '\0') {
        n = snprintf(buf, size, "%s", env);
    } else if (geteuid() == 0) {
        n = snprintf(buf, size, "/var/lib/reseolio");
    } else if (xdg != NULL && xdg[0] == '/') { /* XDG: a relative value is to be ignored */
        n = snprintf(buf, size, "%s/reseolio", xdg);
    } else {
        const char *home = getenv("HOME");
        if (home == NULL || home[0] != '/') {
            struct passwd *pw = getpwuid(geteuid());
            home = pw != NULL ? pw->pw_dir : NULL;
        }
        if (home == NULL || home[0] != '/')
            return -1;
        n = snprintf(buf, size, "%s/.local/state/reseolio", home);
    }
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* Stop the server of pc: fast, then immediate when fast did not finish. 0, or -1. */
static int pgc_shutdown(const struct pgcluster *pc)
{
    static const char *const fast[] = {"stop", "-m", "fast", "-w", "-t", PGC_STOP_WAIT_S};
    static const char *const immediate[] = {"stop", "-m", "immediate", "-w", "-t", PGC_STOP_WAIT_S};
    static const char *const status_args[] = {"status"};
    int log_fd = open(pc->logfile, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    int rc = 0;
    log_info("private PostgreSQL: stopping the server of %s (fast shutdown)", pc->pgdata);
    if (pgc_pg_ctl(pc, fast, sizeof(fast) / sizeof(fast[0]), log_fd) != 0) {
        if (pgc_pg_ctl(pc, status_args, 1, -1) == 3) {
            log_warn("private PostgreSQL: the server of %s had already stopped", pc->pgdata);
        } else {
            log_warn("private PostgreSQL: fast shutdown of %s did not finish; shutting down "
                     "immediately (the next start recovers from the WAL)",
                     pc->pgdata);
            if (pgc_pg_ctl(pc, immediate, sizeof(immediate) / sizeof(immediate[0]), log_fd) != 0) {
                log_error("private PostgreSQL: cannot stop the server of %s (pid %ld); see %s",
                          pc->pgdata, pgc_postmaster_pid(pc), pc->logfile);
                rc = -1;
            }
        }
    }
    if (log_fd >= 0)
        close(log_fd);
    if (rc == 0)
        log_info("private PostgreSQL: stopped");
    return rc;
}

/* Create, start or reuse the cluster; see pgcluster.h. */
int pgcluster_start(const struct pgcluster_opts *opts, struct pgcluster *out, char *err,
                    size_t errlen)
{
    static const struct pgcluster_opts no_opts = {0};
    struct pgcluster *pc = out;
    int log_fd = -1;
    bool up = false;
    memset(pc, 0, sizeof(*pc));
    pc->lock_fd = -1;
    if (opts == NULL)
        opts = &no_opts;

    if (pgc_resolve_user(pc, err, errlen) != 0 ||
        pgc_resolve_state_dir(pc, opts->state_dir, err, errlen) != 0 ||
        pgc_check_state_dir(pc, err, errlen) != 0 || pgc_check_reachable(pc, err, errlen) != 0 ||
        pgc_lock(pc, err, errlen) != 0)
        goto fail;
    int made_by = pgc_check_cluster(pc, err, errlen);
    if (made_by < 0 || pgc_find_bindir(pc, opts->pg_bin, made_by, err, errlen) != 0)
        goto fail;
    pc->major = pgc_bin_major(pc->bindir);
    if (pc->major <= 0) {
        pgc_fail(err, errlen, "cannot tell the version of %s/postgres (postgres -V failed)",
                 pc->bindir);
        goto fail;
    }
    if (made_by > 0 && made_by != pc->major) {
        pgc_fail(err, errlen,
                 "the cluster %s was made by PostgreSQL %d, but %s holds PostgreSQL %d: install "
                 "PostgreSQL %d and point RESEOLIO_PG_BIN at its bin directory, or upgrade the "
                 "cluster with pg_upgrade",
                 pc->pgdata, made_by, pc->bindir, pc->major, made_by);
        goto fail;
    }
    log_info("private PostgreSQL: using PostgreSQL %d from %s", pc->major, pc->bindir);

    /* Ours to append to; the server appends too (pg_ctl -l), as the cluster's owner. */
    log_fd = open(pc->logfile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (log_fd < 0 || (pc->drop_user && fchown(log_fd, pc->uid, pc->gid) != 0)) {
        pgc_fail(err, errlen, "cannot open %s: %s", pc->logfile, strerror(errno));
        goto fail;
    }
    if ((made_by == 0 && pgc_initdb(pc, log_fd, err, errlen) != 0) ||
        pgc_prepare_sockdir(pc, err, errlen) != 0 || pgc_write_conf(pc, err, errlen) != 0 ||
        pgc_include_conf(pc, err, errlen) != 0)
        goto fail;
    if (pgc_bring_up(pc, log_fd, err, errlen) != 0)
        goto fail;
    up = true;
    if (pgc_create_db(pc, err, errlen) != 0)
        goto fail;
    if (pgc_conninfo(pc, PGCLUSTER_DBNAME, pc->conninfo, sizeof(pc->conninfo)) != 0) {
        pgc_fail(err, errlen, "conninfo too long");
        goto fail;
    }
    close(log_fd);
    pc->running = true;
    log_info("private PostgreSQL: ready on socket directory %s (database " PGCLUSTER_DBNAME
             ", user %s)",
             pc->sockdir, pc->user);
    return 0;

fail:
    /* Leave nothing running: a failed start must not leave a server nobody will stop. */
    if (up && pgc_shutdown(pc) != 0)
        log_error("private PostgreSQL: the server of %s may still run", pc->pgdata);
    if (log_fd >= 0)
        close(log_fd);
    if (pc->lock_fd >= 0)
        close(pc->lock_fd);
    pc->lock_fd = -1;
    return -1;
}

/* Stop the server and release the state directory; see pgcluster.h. */
int pgcluster_stop(struct pgcluster *pc)
{
    if (!pc->running)
        return 0;
    int rc = pgc_shutdown(pc);
    close(pc->lock_fd);
    pc->lock_fd = -1;
    pc->running = false;
    return rc;
}
