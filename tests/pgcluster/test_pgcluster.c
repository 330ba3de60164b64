/*
 * The daemon's private PostgreSQL cluster (daemon/pgcluster.c) against the real initdb, pg_ctl
 * and libpq: every test has a state directory of its own, removed with its server afterwards.
 */
#include <criterion/criterion.h>
#include <criterion/hooks.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pgcluster.h"

/* Test state dirs are /tmp/rpgc-<runner pid>-XXXXXX: the runner sweeps its own at the end. */
#define TEST_DIR_PREFIX "/tmp/rpgc-"

static char state[64];
static struct pgcluster pc;
static char err[1024];

/* Milliseconds on the monotonic clock. */
static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The pid in <dir>/pg/postmaster.pid, 0 when there is none. */
static long postmaster_pid(const char *dir)
{
    char path[128], text[32] = "";
    snprintf(path, sizeof(path), "%s/pg/postmaster.pid", dir);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return 0;
    if (fgets(text, sizeof(text), f) == NULL)
        text[0] = '\0';
    fclose(f);
    return strtol(text, NULL, 10);
}

/* nftw callback of remove_tree. */
static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

/*
 * Whatever a test left behind: stop a server still running in dir (immediate shutdown, which
 * removes postmaster.pid; SIGKILL if it does not go), then rm -rf dir. Independent of the
 * module under test, so that a broken pgcluster_stop cannot leak servers.
 */
static void cleanup_dir(const char *dir)
{
    long pid = postmaster_pid(dir);
    if (pid > 0 && kill((pid_t)pid, SIGQUIT) == 0) {
        long long deadline = now_ms() + 15000;
        while (postmaster_pid(dir) == pid && now_ms() < deadline)
            usleep(50000);
        if (postmaster_pid(dir) == pid)
            kill((pid_t)pid, SIGKILL);
    }
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh state directory for the test. */
static void setup(void)
{
    memset(&pc, 0, sizeof(pc));
    err[0] = '\0';
    snprintf(state, sizeof(state), TEST_DIR_PREFIX "%ld-XXXXXX", (long)getppid());
    cr_assert_not_null(mkdtemp(state), "mkdtemp: %s", strerror(errno));
}

/* Stop what the test started, then remove everything: runs after failed asserts too. */
static void teardown(void)
{
    if (pgcluster_stop(&pc) != 0)
        cr_log_warn("pgcluster_stop failed in teardown");
    cleanup_dir(state);
}

/*
 * Last resort, in the runner after every test: a test that crashed or timed out skipped its
 * teardown, so sweep the state dirs of this run.
 */
ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    char prefix[64];
    int n = snprintf(prefix, sizeof(prefix), "rpgc-%ld-", (long)getpid());
    DIR *d = opendir("/tmp");
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char dir[300];
        if (strncmp(e->d_name, prefix, (size_t)n) != 0)
            continue;
        snprintf(dir, sizeof(dir), "/tmp/%s", e->d_name);
        cleanup_dir(dir);
    }
    closedir(d);
}

TestSuite(pgcluster, .init = setup, .fini = teardown, .timeout = 180);

/* Start the cluster in the test's state dir; fails the test on error. */
static void start(struct pgcluster *c)
{
    struct pgcluster_opts opts = {.state_dir = state};
    int rc = pgcluster_start(&opts, c, err, sizeof(err));
    cr_assert_eq(rc, 0, "pgcluster_start: %s", err);
    cr_assert(c->running);
}

/* Run sql on conninfo; the single value it returns, as a malloc'd string (free it). */
static char *query1(const char *conninfo, const char *sql)
{
    PGconn *c = PQconnectdb(conninfo);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "connect %s: %s", conninfo, PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    cr_assert(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "%s: %s", sql,
              PQresultErrorMessage(r));
    char *v = strdup(st == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(c);
    return v;
}

/* cr_assert that sql on conninfo returns want. */
static void expect_query(const char *conninfo, const char *sql, const char *want)
{
    char *v = query1(conninfo, sql);
    cr_expect_str_eq(v, want, "%s", sql);
    free(v);
}

/* The uid that owns path. */
static uid_t owner_of(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "stat %s: %s", path, strerror(errno));
    return st.st_uid;
}

/* The uid that process pid runs as, from /proc. */
static long uid_of_process(long pid)
{
    char path[64], line[256];
    long uid = -1;
    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    FILE *f = fopen(path, "re");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "Uid:", 4) == 0)
            uid = strtol(line + 4, NULL, 10);
    }
    fclose(f);
    return uid;
}

/* True when path exists. */
static bool exists(const char *dir, const char *name)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return lstat(path, &st) == 0;
}

Test(pgcluster, first_start_creates_cluster_and_database)
{
    start(&pc);
    cr_expect(exists(state, "pg/PG_VERSION"));
    cr_expect(exists(state, "pg.log"));
    cr_expect(!exists(state, "pg.new"));
    cr_expect_neq(strstr(pc.conninfo, "dbname=" PGCLUSTER_DBNAME), NULL, "%s", pc.conninfo);

    expect_query(pc.conninfo, "SELECT current_database()", PGCLUSTER_DBNAME);
    expect_query(pc.conninfo, "SHOW fsync", "on");
    expect_query(pc.conninfo, "SHOW synchronous_commit", "on");
    expect_query(pc.conninfo, "SHOW listen_addresses", "");
    expect_query(pc.conninfo, "SHOW data_checksums", "on");
    expect_query(pc.conninfo, "SHOW server_encoding", "UTF8");

    struct stat st;
    cr_assert_eq(stat(pc.sockdir, &st), 0);
    cr_expect_eq(st.st_mode & 07777, 0700, "socket dir mode %o", st.st_mode & 07777);
    cr_expect_eq(st.st_uid, pc.uid);
}

Test(pgcluster, second_start_reuses_cluster_and_data)
{
    start(&pc);
    char *sysid = query1(pc.conninfo, "SELECT system_identifier FROM pg_control_system()");
    free(query1(pc.conninfo, "CREATE TABLE t (v text); INSERT INTO t VALUES ('kept')"));
    cr_assert_eq(pgcluster_stop(&pc), 0);

    start(&pc);
    expect_query(pc.conninfo, "SELECT system_identifier FROM pg_control_system()", sysid);
    expect_query(pc.conninfo, "SELECT v FROM t", "kept");
    free(sysid);
}

Test(pgcluster, stop_stops_the_server)
{
    start(&pc);
    char conninfo[sizeof(pc.conninfo)];
    memcpy(conninfo, pc.conninfo, sizeof(conninfo));
    cr_assert_eq(pgcluster_stop(&pc), 0);
    cr_expect(!pc.running);
    cr_expect_eq(postmaster_pid(state), 0, "postmaster.pid is still there");

    PGconn *c = PQconnectdb(conninfo);
    cr_expect_eq(PQstatus(c), CONNECTION_BAD, "connected after stop");
    PQfinish(c);
    cr_expect_eq(pgcluster_stop(&pc), 0, "a second stop is a no-op");
}

Test(pgcluster, root_runs_cluster_as_unprivileged_user)
{
    if (geteuid() != 0)
        cr_skip_test("needs root");
    struct passwd *pw = getpwnam(PGCLUSTER_ROOT_RUN_AS);
    cr_assert_not_null(pw, "no user " PGCLUSTER_ROOT_RUN_AS);
    uid_t uid = pw->pw_uid;

    start(&pc);
    cr_expect_str_eq(pc.user, PGCLUSTER_ROOT_RUN_AS);
    expect_query(pc.conninfo, "SELECT current_user", PGCLUSTER_ROOT_RUN_AS);
    cr_expect_eq(owner_of(pc.pgdata), uid);
    cr_expect_eq(owner_of(pc.sockdir), uid);
    cr_expect_eq(owner_of(pc.logfile), uid);
    cr_expect_eq(owner_of(state), 0, "the state dir stays root's");
    long pid = postmaster_pid(state);
    cr_assert_gt(pid, 0);
    cr_expect_eq(uid_of_process(pid), (long)uid, "the postmaster runs as uid %ld",
                 uid_of_process(pid));
}

Test(pgcluster, state_dir_of_another_user_is_refused)
{
    /* Root gives the test's dir away; anyone else is handed root's "/". */
    const char *dir = state, *want = "belongs to uid 65534";
    if (geteuid() == 0)
        cr_assert_eq(chown(state, 65534, 65534), 0, "chown: %s", strerror(errno));
    else
        dir = "/", want = "belongs to uid 0";
    struct pgcluster_opts opts = {.state_dir = dir};
    cr_assert_neq(pgcluster_start(&opts, &pc, err, sizeof(err)), 0);
    cr_expect_neq(strstr(err, want), NULL, "%s", err);
    cr_expect_neq(strstr(err, "refusing"), NULL, "%s", err);
    cr_expect(!pc.running);
    cr_expect(!exists(dir, "pg"), "something was made in a refused dir");
    cr_expect(!exists(dir, "lock"), "something was made in a refused dir");
}

Test(pgcluster, state_dir_the_cluster_owner_cannot_reach_is_refused)
{
    if (geteuid() != 0)
        cr_skip_test("needs root (the cluster's owner is another user only then)");
    char inner[128];
    snprintf(inner, sizeof(inner), "%s/inner", state); /* state itself stays 0700 */
    struct pgcluster_opts opts = {.state_dir = inner};
    cr_assert_neq(pgcluster_start(&opts, &pc, err, sizeof(err)), 0);
    cr_expect_neq(strstr(err, "cannot reach"), NULL, "%s", err);
    cr_expect(!exists(inner, "pg"));
}

Test(pgcluster, cluster_of_another_postgres_version_is_refused)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/pg", state);
    cr_assert_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/pg/PG_VERSION", state);
    FILE *f = fopen(path, "we");
    cr_assert_not_null(f);
    fputs("9\n", f);
    cr_assert_eq(fclose(f), 0);
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam(PGCLUSTER_ROOT_RUN_AS);
        cr_assert_not_null(pw);
        cr_assert_eq(chown(path, pw->pw_uid, pw->pw_gid), 0);
        snprintf(path, sizeof(path), "%s/pg", state);
        cr_assert_eq(chown(path, pw->pw_uid, pw->pw_gid), 0);
    }
    struct pgcluster_opts opts = {.state_dir = state};
    cr_assert_neq(pgcluster_start(&opts, &pc, err, sizeof(err)), 0);
    cr_expect_neq(strstr(err, "made by PostgreSQL 9"), NULL, "%s", err);
    cr_expect_neq(strstr(err, "pg_upgrade"), NULL, "%s", err);
}

Test(pgcluster, cluster_of_another_user_is_refused)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to give the dir away");
    char pgdata[128];
    snprintf(pgdata, sizeof(pgdata), "%s/pg", state);
    cr_assert_eq(mkdir(pgdata, 0700), 0);
    cr_assert_eq(chown(pgdata, 65534, 65534), 0, "chown: %s", strerror(errno));
    struct pgcluster_opts opts = {.state_dir = state};
    cr_assert_neq(pgcluster_start(&opts, &pc, err, sizeof(err)), 0);
    cr_expect_neq(strstr(err, "belongs to uid 65534"), NULL, "%s", err);
    cr_expect(!pc.running);
}

Test(pgcluster, state_dir_writable_by_others_is_refused)
{
    cr_assert_eq(chmod(state, 0777), 0);
    struct pgcluster_opts opts = {.state_dir = state};
    cr_assert_neq(pgcluster_start(&opts, &pc, err, sizeof(err)), 0);
    cr_expect_neq(strstr(err, "may be written by others"), NULL, "%s", err);
    cr_expect(!exists(state, "pg"));
}

Test(pgcluster, missing_binaries_give_a_clear_error)
{
    char empty[128];
    snprintf(empty, sizeof(empty), "%s/empty-bin", state);
    cr_assert_eq(mkdir(empty, 0755), 0);
    cr_assert_eq(setenv("RESEOLIO_PG_BIN", empty, 1), 0);
    struct pgcluster_opts opts = {.state_dir = state};
    cr_assert_neq(pgcluster_start(&opts, &pc, err, sizeof(err)), 0);
    cr_expect_neq(strstr(err, "RESEOLIO_PG_BIN"), NULL, "%s", err);
    cr_expect_neq(strstr(err, "has no initdb"), NULL, "%s", err);
    cr_expect_neq(strstr(err, "apt-get install postgresql"), NULL, "%s", err);
    cr_expect(!pc.running);
    cr_expect(!exists(state, "pg"));
}

Test(pgcluster, server_left_by_a_killed_daemon_is_reused)
{
    /* A child plays the daemon that dies without stopping: its lock goes, its server stays. */
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        struct pgcluster mine;
        struct pgcluster_opts opts = {.state_dir = state};
        _exit(pgcluster_start(&opts, &mine, err, sizeof(err)) == 0 ? 0 : 1);
    }
    int st;
    cr_assert_eq(waitpid(child, &st, 0), child);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the first daemon could not start");
    long before = postmaster_pid(state);
    cr_assert_gt(before, 0);

    start(&pc);
    cr_expect_eq(postmaster_pid(state), before, "the server was restarted, not reused");
    expect_query(pc.conninfo, "SELECT 1", "1");
    cr_assert_eq(pgcluster_stop(&pc), 0);
    cr_expect_eq(postmaster_pid(state), 0);
}

Test(pgcluster, second_daemon_on_one_state_dir_is_refused)
{
    struct pgcluster other;
    start(&pc);
    struct pgcluster_opts opts = {.state_dir = state};
    cr_assert_neq(pgcluster_start(&opts, &other, err, sizeof(err)), 0);
    cr_expect_neq(strstr(err, "in use by another reseoliod"), NULL, "%s", err);
    expect_query(pc.conninfo, "SELECT 1", "1"); /* the first one is untouched */
}

Test(pgcluster, half_made_cluster_of_a_crashed_first_start_is_replaced)
{
    char junk[128];
    snprintf(junk, sizeof(junk), "%s/pg.new", state);
    cr_assert_eq(mkdir(junk, 0700), 0);
    snprintf(junk, sizeof(junk), "%s/pg.new/PG_VERSION", state);
    int fd = open(junk, O_WRONLY | O_CREAT, 0600);
    cr_assert_geq(fd, 0);
    close(fd);
    start(&pc);
    cr_expect(!exists(state, "pg.new"));
    expect_query(pc.conninfo, "SELECT current_database()", PGCLUSTER_DBNAME);
}

Test(pgcluster, default_state_dir)
{
    char buf[256];
    cr_assert_eq(setenv("RESEOLIO_STATE_DIR", "/srv/r", 1), 0);
    cr_assert_eq(pgcluster_default_state_dir(buf, sizeof(buf)), 0);
    cr_expect_str_eq(buf, "/srv/r");
    cr_assert_eq(unsetenv("RESEOLIO_STATE_DIR"), 0);

    cr_assert_eq(setenv("XDG_STATE_HOME", "/x/state", 1), 0);
    cr_assert_eq(setenv("HOME", "/home/h", 1), 0);
    cr_assert_eq(pgcluster_default_state_dir(buf, sizeof(buf)), 0);
    cr_expect_str_eq(buf, geteuid() == 0 ? "/var/lib/reseolio" : "/x/state/reseolio");
    if (geteuid() != 0) {
        cr_assert_eq(setenv("XDG_STATE_HOME", "relative", 1), 0); /* ignored, per XDG */
        cr_assert_eq(pgcluster_default_state_dir(buf, sizeof(buf)), 0);
        cr_expect_str_eq(buf, "/home/h/.local/state/reseolio");
    }
    cr_expect_neq(pgcluster_default_state_dir(buf, 4), 0, "a short buffer is an error");
}
