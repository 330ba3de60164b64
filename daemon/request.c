/*
 * A client request the engine answers later (after a PostgreSQL round trip): which connection
 * and request id the reply goes to, and what happens when that connection closes first.
 */
#include "request.h"

#include "conn.h"

/* Link r to c; the connection stops reading when too many are outstanding. */
void request_attach(struct request *r, struct conn *c, uint32_t id)
{
    r->conn = c;
    r->id = id;
    TAILQ_INSERT_TAIL(&c->requests, r, link);
    c->nrequests++;
}

/* Unlink r and hand back the connection to answer. */
struct conn *request_detach(struct request *r)
{
    struct conn *c = r->conn;
    if (c == NULL)
        return NULL;
    TAILQ_REMOVE(&c->requests, r, link);
    c->nrequests--;
    r->conn = NULL;
    if (c->closed)
        return NULL;
    if (c->nrequests <= REQUEST_MAX_PER_CONN / 2)
        conn_resume_input(c);
    return c;
}

/* Orphan every request of a closing connection. */
void request_conn_closed(struct conn *c)
{
    struct request *r;
    while ((r = TAILQ_FIRST(&c->requests)) != NULL) {
        TAILQ_REMOVE(&c->requests, r, link);
        r->conn = NULL;
    }
    c->nrequests = 0;
}
