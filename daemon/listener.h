/*
 * The daemon's Unix socket: a private directory, a stale-socket check under a lock file,
 * bind with mode 0600 (0666 under an allow-list), and accepting connections with the peer's
 * credentials.
 */
#ifndef RESEOLIOD_LISTENER_H
#define RESEOLIOD_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct event_base;
struct listener;

/*
 * Called once per accepted connection with a non-blocking, close-on-exec fd and the peer's
 * credentials (read once, at accept). The callee owns fd from then on. The callback may call
 * listener_close only through a deferred event, never directly.
 */
typedef void (*listener_accept_fn)(int fd, const struct ucred *peer, void *arg);

enum listener_status {
    LISTENER_OK = 0,
    LISTENER_IN_USE, /* another daemon holds the socket: the caller exits 1 */
    LISTENER_ERROR,  /* anything else; err says what */
};

/*
 * Make the socket's directory (0700, refused when not ours or writable by others), take
 * the lock file beside the socket, replace a stale socket, bind (0600) and start accepting
 * on base. shared (an allow-list decides who connects): the socket is 0666 and a directory
 * made here 0711, so that other users can reach it. On failure *out is NULL and err holds the
 * reason.
 */
enum listener_status listener_open(struct listener **out, struct event_base *base, const char *path,
                                   bool shared, listener_accept_fn fn, void *arg, char *err,
                                   size_t errlen) __attribute__((warn_unused_result));

/*
 * Accept on fd, a listening Unix socket passed by the service manager (sdlisten_take): no
 * directory check, no lock, no bind; its file, mode and group are the manager's, and it is
 * left in place at close. fd is owned from now on (closed on failure).
 */
enum listener_status listener_adopt(struct listener **out, struct event_base *base, int fd,
                                    listener_accept_fn fn, void *arg, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The socket's path, for logs. */
const char *listener_path(const struct listener *l);

/* True for a socket passed by the service manager. */
bool listener_inherited(const struct listener *l);

/* Stop accepting, remove the socket file (not an inherited one), release the lock, free. NULL
 * is a no-op. */
void listener_close(struct listener *l);

#endif
