/*
 * Who may connect: the peer's credentials, read at accept, against the daemon's own uid, root,
 * and the optional allow-list of uids and groups (--allow-uid, --allow-gid).
 */
#ifndef RESEOLIOD_ALLOWLIST_H
#define RESEOLIOD_ALLOWLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "config.h"

/*
 * True when the peer on fd (credentials peer) may be served. The daemon's own uid and root
 * always may. Without an allow-list nobody else may, except on an inherited socket, whose mode
 * and group (the unit's) decide alone. With one, on any socket, a listed uid may, and so may
 * a peer whose primary or supplementary groups (SO_PEERGROUPS) include a listed gid. When
 * false, why says why, for the log.
 */
bool allowlist_admits(const struct config *cfg, bool inherited, int fd, const struct ucred *peer,
                      char *why, size_t whylen);

#endif
