/*
 * The daemon as a whole: the listener, the set of connections with its cap, the deferred
 * freeing of closed connections, and the graceful stop.
 */
#ifndef RESEOLIOD_SERVER_H
#define RESEOLIOD_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "config.h"
#include "conn.h"
#include "node_id.h"
#include "storage_identity.h"

struct event_base;
struct event;
struct listener;
struct engine;

TAILQ_HEAD(conn_list, conn);

/* Owner: main (on its stack); release with server_free. */
struct server {
    struct event_base *base;         /* not owned */
    const struct config *cfg;        /* not owned */
    struct storage_identity storage; /* what WELCOME names and HELLO is compared with */
    char node_id[NODE_ID_SIZE];
    char server_name[64];      /* "reseoliod/<version>" */
    struct listener *listener; /* NULL once stopping */
    struct conn_list conns;    /* open connections */
    struct conn_list dead;     /* closed, waiting for ev_reap */
    uint32_t nconns;           /* length of conns */
    uint64_t next_conn_id;
    struct event *ev_reap;
    struct engine *engine; /* owned; NULL until the store is set up (engine_free) */
    bool stopping;
};

enum server_status {
    SERVER_OK = 0,
    SERVER_IN_USE, /* another daemon serves the socket: exit 1 */
    SERVER_ERROR,  /* err says what: exit 1 */
};

/* Set up storage identity, node id and listener on base. On failure err says why. */
enum server_status server_init(struct server *s, struct event_base *base, const struct config *cfg,
                               char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * Graceful stop: stop accepting, remove the socket file, let the engine finish or hand back
 * the running jobs, then tell every client (ERROR shutting_down), close every connection,
 * and end the event loop.
 */
void server_stop(struct server *s, const char *why);

/* Called by conn_close: move c to the dead list and schedule its freeing. */
void server_conn_closed(struct server *s, struct conn *c);

/* Release everything, including connections still open or waiting to be freed. */
void server_free(struct server *s);

#endif
