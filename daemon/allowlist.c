/*
 * Who may connect: the peer's credentials, read at accept, against the daemon's own uid, root,
 * and the optional allow-list of uids and groups (--allow-uid, --allow-gid).
 */
#include "allowlist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59 /* Linux 4.13; older headers lack it */
#endif

/* Groups a peer may be in that we look at; more are read, these suffice to decide. */
#define ALLOWLIST_GROUPS_MAX 65536

/* True when gid is in the list. */
static bool allowlist_has_gid(const struct config *cfg, gid_t gid)
{
    for (size_t i = 0; i < cfg->n_allow_gids; i++)
        if (cfg->allow_gids[i] == gid)
            return true;
    return false;
}

/* True when one of the peer's supplementary groups, as the kernel recorded them at connect, is
 * listed. A peer whose groups cannot be read is not admitted by them. */
static bool allowlist_peer_groups_listed(const struct config *cfg, int fd)
{
    socklen_t len = 64 * sizeof(gid_t);
    gid_t *groups = NULL;
    bool found = false;
    for (;;) {
        gid_t *grown = realloc(groups, len);
        if (grown == NULL)
            break;
        groups = grown;
        socklen_t got = len;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &got) == 0) {
            for (size_t i = 0; i < got / sizeof(gid_t) && !found; i++)
                found = allowlist_has_gid(cfg, groups[i]);
            break;
        }
        /* ERANGE says how much room the list needs. */
        if (errno != ERANGE || got <= len || got > ALLOWLIST_GROUPS_MAX * sizeof(gid_t))
            break;
        len = got;
    }
    free(groups);
    return found;
}

/* Own uid, root, then the allow-list when there is one. */
bool allowlist_admits(const struct config *cfg, bool inherited, int fd, const struct ucred *peer,
                      char *why, size_t whylen)
{
    if (peer->uid == geteuid() || peer->uid == 0)
        return true;
    if (!cfg->allow_list) {
        if (inherited)
            return true;
        snprintf(why, whylen, "uid %lu is neither ours (%lu) nor root", (unsigned long)peer->uid,
                 (unsigned long)geteuid());
        return false;
    }
    for (size_t i = 0; i < cfg->n_allow_uids; i++)
        if (cfg->allow_uids[i] == peer->uid)
            return true;
    if (allowlist_has_gid(cfg, peer->gid) ||
        (cfg->n_allow_gids > 0 && allowlist_peer_groups_listed(cfg, fd)))
        return true;
    snprintf(why, whylen,
             "uid %lu (gid %lu) is not ours, not root, not in --allow-uid and in no group of "
             "--allow-gid",
             (unsigned long)peer->uid, (unsigned long)peer->gid);
    return false;
}
