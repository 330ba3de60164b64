/*
 * The daemon's Unix socket: a private directory, a stale-socket check under a lock file,
 * bind with mode 0600 (0666 under an allow-list), and accepting connections with the peer's
 * credentials.
 */
#include "listener.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

/* Connections accepted in one wake-up before other events get their turn. */
#define LISTENER_ACCEPTS_PER_WAKE 32
/* How long accepting pauses when the process is out of file descriptors. */
#define LISTENER_BACKOFF_MS 100

/* Owner: the server; freed by listener_close. */
struct listener {
    int fd;
    int lock_fd;
    char *path;
    bool inherited; /* passed by the service manager: its file is not ours to remove */
    struct event *ev_accept;
    struct event *ev_resume; /* re-enables accepting after a pause */
    listener_accept_fn fn;
    void *arg;
};

/* The directory part of path, as a new string ("." when there is none, "/" for the root). */
static char *listener_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(n + 1);
    if (dir != NULL) {
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    return dir;
}

/* Create the socket's directory when missing (0700, or 0711 when shared) and check that it
 * is ours and writable by nobody else. */
static int listener_check_dir(const char *path, bool shared, char *err, size_t errlen)
{
    mode_t mode = shared ? 0711 : 0700;
    char *dir = listener_dir_of(path);
    if (dir == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = -1;
    struct stat st;
    if (lstat(dir, &st) != 0) {
        if (errno != ENOENT) {
            snprintf(err, errlen, "socket directory %s: %s", dir, strerror(errno));
            goto out;
        }
        /* chmod too: mkdir's mode is filtered by the umask. */
        if (mkdir(dir, mode) != 0 || chmod(dir, mode) != 0) {
            snprintf(err, errlen, "cannot create socket directory %s: %s", dir, strerror(errno));
            goto out;
        }
        log_info("created socket directory %s (mode %04o)", dir, (unsigned)mode);
        if (lstat(dir, &st) != 0) {
            snprintf(err, errlen, "socket directory %s: %s", dir, strerror(errno));
            goto out;
        }
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "socket directory %s is not a directory", dir);
        goto out;
    }
    if (st.st_uid != geteuid()) {
        snprintf(err, errlen, "socket directory %s belongs to uid %lu, not to us (uid %lu)", dir,
                 (unsigned long)st.st_uid, (unsigned long)geteuid());
        goto out;
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        snprintf(err, errlen, "socket directory %s is writable by group or others (mode %04o)", dir,
                 (unsigned)(st.st_mode & 07777));
        goto out;
    }
    if (shared && (st.st_mode & S_IXOTH) == 0)
        log_warn("socket directory %s (mode %04o) lets no other user reach the socket: only we and "
                 "root can connect until it is searchable by others (chmod o+x)",
                 dir, (unsigned)(st.st_mode & 07777));
    rc = 0;
out:
    free(dir);
    return rc;
}

/* Take PATH.lock so that two daemons starting at once cannot both take the socket. */
static enum listener_status listener_lock(struct listener *l, char *err, size_t errlen)
{
    size_t n = strlen(l->path) + sizeof(".lock");
    char *lock_path = malloc(n);
    if (lock_path == NULL) {
        snprintf(err, errlen, "out of memory");
        return LISTENER_ERROR;
    }
    snprintf(lock_path, n, "%s.lock", l->path);
    l->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (l->lock_fd < 0) {
        snprintf(err, errlen, "cannot open lock file %s: %s", lock_path, strerror(errno));
        free(lock_path);
        return LISTENER_ERROR;
    }
    if (flock(l->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        enum listener_status st = errno == EWOULDBLOCK ? LISTENER_IN_USE : LISTENER_ERROR;
        if (st == LISTENER_IN_USE)
            snprintf(err, errlen, "another reseoliod already serves %s (lock %s is held)", l->path,
                     lock_path);
        else
            snprintf(err, errlen, "cannot lock %s: %s", lock_path, strerror(errno));
        free(lock_path);
        return st;
    }
    free(lock_path);
    return LISTENER_OK;
}

/* Remove a socket file nobody answers on; refuse when somebody does or it is no socket. */
static enum listener_status listener_clear_stale(const struct listener *l,
                                                 const struct sockaddr_un *addr, char *err,
                                                 size_t errlen)
{
    struct stat st;
    if (lstat(l->path, &st) != 0) {
        if (errno == ENOENT)
            return LISTENER_OK;
        snprintf(err, errlen, "socket %s: %s", l->path, strerror(errno));
        return LISTENER_ERROR;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "%s exists and is not a socket; not replacing it", l->path);
        return LISTENER_ERROR;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return LISTENER_ERROR;
    }
    int rc = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
    int saved = errno;
    close(fd);
    if (rc == 0) {
        snprintf(err, errlen, "another process already listens on %s", l->path);
        return LISTENER_IN_USE;
    }
    if (saved != ECONNREFUSED && saved != ENOENT) {
        snprintf(err, errlen, "cannot probe existing socket %s: %s", l->path, strerror(saved));
        return LISTENER_ERROR;
    }
    if (unlink(l->path) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "cannot remove stale socket %s: %s", l->path, strerror(errno));
        return LISTENER_ERROR;
    }
    log_info("removed stale socket %s (nobody listened on it)", l->path);
    return LISTENER_OK;
}

/* Accept pending connections, a bounded number per wake-up. */
static void listener_on_accept(evutil_socket_t fd, short what, void *arg)
{
    struct listener *l = arg;
    for (int i = 0; i < LISTENER_ACCEPTS_PER_WAKE; i++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Level-triggered accept would spin: pause, then try again. */
                log_warn("accept on %s failed: %s; pausing accepts for %d ms", l->path,
                         strerror(errno), LISTENER_BACKOFF_MS);
                struct timeval tv = {0, LISTENER_BACKOFF_MS * 1000};
                event_del(l->ev_accept);
                event_add(l->ev_resume, &tv);
                return;
            }
            log_error("accept on %s failed: %s", l->path, strerror(errno));
            return;
        }
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred)) {
            log_warn("cannot read peer credentials of a new connection: %s; closing it",
                     strerror(errno));
            close(cfd);
            continue;
        }
        l->fn(cfd, &cred, l->arg);
    }
}

/* Re-enable accepting after a pause. */
static void listener_on_resume(evutil_socket_t fd, short what, void *arg)
{
    struct listener *l = arg;
    if (event_add(l->ev_accept, NULL) != 0)
        log_error("cannot resume accepting on %s", l->path);
}

/* Directory, lock, stale socket, bind, listen, accept event. */
enum listener_status listener_open(struct listener **out, struct event_base *base, const char *path,
                                   bool shared, listener_accept_fn fn, void *arg, char *err,
                                   size_t errlen)
{
    *out = NULL;
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(addr.sun_path)) {
        snprintf(err, errlen, "socket path %s is too long", path);
        return LISTENER_ERROR;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);

    struct listener *l = calloc(1, sizeof(*l));
    if (l == NULL || (l->path = strdup(path)) == NULL) {
        free(l);
        snprintf(err, errlen, "out of memory");
        return LISTENER_ERROR;
    }
    l->fd = -1;
    l->lock_fd = -1;
    l->fn = fn;
    l->arg = arg;

    enum listener_status st = LISTENER_ERROR;
    if (listener_check_dir(path, shared, err, errlen) != 0)
        goto fail;
    if ((st = listener_lock(l, err, errlen)) != LISTENER_OK)
        goto fail;
    if ((st = listener_clear_stale(l, &addr, err, errlen)) != LISTENER_OK)
        goto fail;
    st = LISTENER_ERROR;

    l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l->fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        goto fail;
    }
    /* The umask makes the socket 0600 (0666) from its first moment; chmod states it
     * explicitly. */
    mode_t mode = shared ? 0666 : 0600;
    mode_t old = umask(shared ? 0111 : 0177);
    int rc = bind(l->fd, (const struct sockaddr *)&addr, sizeof(addr));
    int saved = errno;
    umask(old);
    if (rc != 0) {
        snprintf(err, errlen, "cannot bind %s: %s", path, strerror(saved));
        if (saved == EADDRINUSE)
            st = LISTENER_IN_USE;
        goto fail;
    }
    const char *failed = chmod(path, mode) != 0          ? "chmod"
                         : listen(l->fd, SOMAXCONN) != 0 ? "listen"
                                                         : NULL;
    if (failed != NULL) {
        snprintf(err, errlen, "%s on %s failed: %s", failed, l->path, strerror(errno));
        unlink(path);
        goto fail;
    }

    l->ev_accept = event_new(base, l->fd, EV_READ | EV_PERSIST, listener_on_accept, l);
    l->ev_resume = evtimer_new(base, listener_on_resume, l);
    if (l->ev_accept == NULL || l->ev_resume == NULL || event_add(l->ev_accept, NULL) != 0) {
        snprintf(err, errlen, "cannot watch %s for connections", path);
        unlink(path);
        goto fail;
    }
    *out = l;
    return LISTENER_OK;

fail:
    /* Not bound by us (or already unlinked): the path is left alone. */
    free(l->path);
    l->path = NULL;
    listener_close(l);
    return st;
}

/* A listening socket passed by the service manager: accept on it as it is. */
enum listener_status listener_adopt(struct listener **out, struct event_base *base, int fd,
                                    listener_accept_fn fn, void *arg, char *err, size_t errlen)
{
    *out = NULL;
    struct sockaddr_un addr;
    socklen_t len = sizeof(addr);
    memset(&addr, 0, sizeof(addr));
    struct listener *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        snprintf(err, errlen, "out of memory");
        close(fd);
        return LISTENER_ERROR;
    }
    l->fd = fd;
    l->lock_fd = -1;
    l->inherited = true;
    l->fn = fn;
    l->arg = arg;
    if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0 || len <= sizeof(sa_family_t) ||
        addr.sun_path[0] == '\0')
        l->path = strdup("(inherited socket)");
    else
        l->path = strndup(addr.sun_path, len - sizeof(sa_family_t));
    l->ev_accept = event_new(base, l->fd, EV_READ | EV_PERSIST, listener_on_accept, l);
    l->ev_resume = evtimer_new(base, listener_on_resume, l);
    if (l->path == NULL || l->ev_accept == NULL || l->ev_resume == NULL ||
        event_add(l->ev_accept, NULL) != 0) {
        snprintf(err, errlen, "cannot watch the inherited socket for connections");
        listener_close(l);
        return LISTENER_ERROR;
    }
    *out = l;
    return LISTENER_OK;
}

const char *listener_path(const struct listener *l)
{
    return l->path;
}

bool listener_inherited(const struct listener *l)
{
    return l->inherited;
}

/* Stop accepting, remove the socket file, release the lock. */
void listener_close(struct listener *l)
{
    if (l == NULL)
        return;
    if (l->ev_accept != NULL)
        event_free(l->ev_accept);
    if (l->ev_resume != NULL)
        event_free(l->ev_resume);
    if (l->fd >= 0)
        close(l->fd);
    if (l->path != NULL && !l->inherited && unlink(l->path) != 0 && errno != ENOENT)
        log_warn("cannot remove socket %s: %s", l->path, strerror(errno));
    /* The lock file stays: removing it would let a third daemon lock a different inode. */
    if (l->lock_fd >= 0)
        close(l->lock_fd);
    free(l->path);
    free(l);
}
