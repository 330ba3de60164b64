/*
 * A client request the engine answers later (after a PostgreSQL round trip): which connection
 * and request id the reply goes to, and what happens when that connection closes first.
 */
#ifndef RESEOLIOD_REQUEST_H
#define RESEOLIOD_REQUEST_H

#include <stdint.h>
#include <sys/queue.h>

struct conn;

/* Requests answered later per connection; above this its input is paused (backpressure). */
#define REQUEST_MAX_PER_CONN 1024u

/*
 * Owner: whatever operation embeds it (a batch item, a query). While attached it is on its
 * connection's list; when the connection closes first, conn becomes NULL and the reply is
 * dropped.
 */
struct request {
    TAILQ_ENTRY(request) link; /* in conn.requests while attached */
    struct conn *conn;         /* not owned; NULL once the connection closed */
    uint32_t id;               /* the request id the reply carries */
};

TAILQ_HEAD(request_list, request);

/* Remember that c waits for a reply to request id. */
void request_attach(struct request *r, struct conn *c, uint32_t id);

/* The reply is about to be sent (or dropped): unlink r. Returns the connection to answer, or
 * NULL when it closed meanwhile. May resume the connection's paused input. */
struct conn *request_detach(struct request *r);

/* c closes: every request still attached to it loses its connection. */
void request_conn_closed(struct conn *c);

#endif
