/*
 * The peer allow-list (--allow-uid, --allow-gid, RESEOLIO_ALLOW_*): listed users and members
 * of listed groups are served, everyone else is closed at accept, logged, and nobody else
 * notices. Connecting as other uids needs root, which CI is.
 */
#include <criterion/criterion.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon_proc.h"
#include "wire.h"

/* Unused ids on any machine we run on: setuid to them needs no passwd entry. */
#define UID_LISTED   65533u
#define UID_STRANGER 65532u
#define GID_LISTED   65530u
#define GID_OTHER    65531u

static struct daemon_proc d1;
static char sock[128];

/* The daemon's socket under a directory it makes itself (so its mode is the daemon's). */
static void setup(void)
{
    cr_assert_eq(geteuid(), 0, "the allow-list tests connect as other uids: run them as root");
    cr_assert_eq(daemon_proc_init(&d1), 0);
    snprintf(sock, sizeof(sock), "%s/run/reseolio.sock", d1.dir);
    /* The test's temp dir (mkdtemp, 0700) must let the other uids pass. */
    cr_assert_eq(chmod(d1.dir, 0711), 0);
}

static void teardown(void)
{
    daemon_proc_cleanup(&d1);
}

/* What a child connecting as uid, gid and groups sees: served or closed (else the test fails). */
static enum wire_seen connect_as(const char *path, uid_t uid, gid_t gid, const gid_t *groups,
                                 size_t n)
{
    int st = 0;
    enum wire_seen seen = wire_try_as(path, uid, gid, groups, n, &st);
    cr_assert_neq(seen, WIRE_SEEN_OTHER,
                  "the child as uid %u gid %u: status %#x (10 setuid, 11 connect, 12 neither "
                  "served nor closed)",
                  (unsigned)uid, (unsigned)gid, st);
    return seen;
}

/* A connection of ours, handshaken, to check that it is unaffected later. */
static int open_own(const char *path)
{
    int fd = wire_connect(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(wire_handshake(fd), 0);
    return fd;
}

/* PING on fd answered by PONG. */
static void expect_pong(int fd, uint32_t rid)
{
    cr_assert_eq(wire_send_empty(fd, RS_MSG_PING, rid), 0);
    struct wire_reply r;
    cr_assert_eq(wire_recv(fd, WIRE_TIMEOUT_MS, &r), 1, "no reply to PING");
    cr_expect_eq(r.msg.type, RS_MSG_PONG);
    cr_expect_eq(r.msg.request_id, rid);
    wire_reply_free(&r);
}

Test(allowlist, listed_uids_are_served_and_strangers_closed, .init = setup, .fini = teardown)
{
    struct passwd *nobody = getpwnam("nobody");
    cr_assert_not_null(nobody, "no user nobody");
    char list[64];
    snprintf(list, sizeof(list), "%u,nobody", UID_LISTED); /* an id and a name */
    const char *const args[] = {"--allow-uid", list, NULL};
    struct daemon_opts o = {.socket = sock, .args = args, .umask_000 = true};
    cr_assert_eq(daemon_proc_start(&d1, &o), 0);
    cr_expect(daemon_proc_log_has(&d1, "allow-list: besides uid 0 and root, 2 uid(s)"));

    /* Modes that let the listed users reach the socket, even under umask 000. */
    struct stat sb;
    cr_assert_eq(lstat(sock, &sb), 0);
    cr_expect_eq(sb.st_mode & 07777, 0666, "socket mode %o", sb.st_mode & 07777);
    char dir[160];
    snprintf(dir, sizeof(dir), "%s/run", d1.dir);
    cr_assert_eq(lstat(dir, &sb), 0);
    cr_expect_eq(sb.st_mode & 07777, 0711, "directory mode %o", sb.st_mode & 07777);

    int own = open_own(sock);
    cr_expect_eq(connect_as(sock, UID_LISTED, GID_OTHER, NULL, 0), WIRE_SEEN_WELCOME);
    cr_expect_eq(connect_as(sock, nobody->pw_uid, nobody->pw_gid, NULL, 0), WIRE_SEEN_WELCOME,
                 "the user named in the list was refused");
    cr_expect_eq(connect_as(sock, UID_STRANGER, GID_OTHER, NULL, 0), WIRE_SEEN_CLOSED,
                 "an unlisted uid was served");
    char needle[96];
    snprintf(needle, sizeof(needle), "uid %u (gid %u) is not ours", UID_STRANGER, GID_OTHER);
    cr_expect(daemon_proc_wait_log(&d1, needle, WIRE_TIMEOUT_MS), "the refusal was not logged");
    /* Nobody else noticed: our connection still works, a new one too. */
    expect_pong(own, 7);
    close(own);
    own = open_own(sock);
    expect_pong(own, 8);
    close(own);
}

Test(allowlist, listed_groups_admit_their_members, .init = setup, .fini = teardown)
{
    char env[64];
    snprintf(env, sizeof(env), "RESEOLIO_ALLOW_GID=%u", GID_LISTED); /* the env file's way */
    const char *const envs[] = {env, NULL};
    struct daemon_opts o = {.socket = sock, .env = envs};
    cr_assert_eq(daemon_proc_start(&d1, &o), 0);

    const gid_t member[] = {GID_OTHER, GID_LISTED};
    cr_expect_eq(connect_as(sock, UID_STRANGER, GID_OTHER, member, 2), WIRE_SEEN_WELCOME,
                 "a member by a supplementary group was refused");
    cr_expect_eq(connect_as(sock, UID_STRANGER, GID_LISTED, NULL, 0), WIRE_SEEN_WELCOME,
                 "a member by its primary group was refused");
    const gid_t other[] = {GID_OTHER};
    cr_expect_eq(connect_as(sock, UID_STRANGER, GID_OTHER, other, 1), WIRE_SEEN_CLOSED,
                 "a non-member was served");
    cr_expect(daemon_proc_wait_log(&d1, "refused a connection", WIRE_TIMEOUT_MS));
}

Test(allowlist, without_a_list_only_we_and_root_are_served, .init = setup, .fini = teardown)
{
    struct daemon_opts o = {.socket = sock, .umask_000 = true};
    cr_assert_eq(daemon_proc_start(&d1, &o), 0);
    struct stat sb;
    cr_assert_eq(lstat(sock, &sb), 0);
    cr_expect_eq(sb.st_mode & 07777, 0600, "socket mode %o", sb.st_mode & 07777);
    /* Widen by hand what the daemon made private, so only its own check is left. */
    char dir[160];
    snprintf(dir, sizeof(dir), "%s/run", d1.dir);
    cr_assert_eq(chmod(dir, 0711), 0);
    cr_assert_eq(chmod(sock, 0666), 0);
    cr_expect_eq(connect_as(sock, UID_LISTED, GID_LISTED, NULL, 0), WIRE_SEEN_CLOSED);
    cr_expect(daemon_proc_wait_log(&d1, "is neither ours", WIRE_TIMEOUT_MS));
    int own = open_own(sock);
    expect_pong(own, 1);
    close(own);
}

Test(allowlist, bad_lists_stop_the_start, .init = setup, .fini = teardown)
{
    static const char *const cases[][3] = {
        {"--allow-uid", "no-such-user-here", "no user named 'no-such-user-here'"},
        {"--allow-gid", "no-such-group-here", "no group named 'no-such-group-here'"},
        {"--allow-uid", ",", "an empty list"},
        {"--allow-uid", "4294967295", "no user named"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *const args[] = {cases[i][0], cases[i][1], NULL};
        struct daemon_opts o = {.socket = sock, .args = args};
        cr_expect_neq(daemon_proc_start(&d1, &o), 0, "started with %s %s", cases[i][0],
                      cases[i][1]);
        cr_expect(d1.status >= 0 && WIFEXITED(d1.status) && WEXITSTATUS(d1.status) == 2,
                  "%s %s: status %#x", cases[i][0], cases[i][1], d1.status);
        cr_expect(daemon_proc_log_has(&d1, cases[i][2]), "%s %s: no '%s' in its message",
                  cases[i][0], cases[i][1], cases[i][2]);
    }
}
