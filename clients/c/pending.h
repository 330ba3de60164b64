/*
 * The requests a client has sent and not yet seen answered: a bounded table from request id
 * to the callback that takes the reply. Ids are chosen so that lookup is one slot.
 */
#ifndef RESEOLIO_CLIENT_PENDING_H
#define RESEOLIO_CLIENT_PENDING_H

#include <stdint.h>

#include "reseolio.h"

/* One request in flight. */
struct pending_entry {
    uint32_t id;    /* 0: the slot is free */
    uint8_t kind;   /* enum call_kind: which reply is expected and what it becomes */
    rs_reply_cb cb; /* NULL: the reply is dropped (its blocking call gave up waiting) */
    void *arg;
};

/* Owner: the client that embeds it; release with pending_free. */
struct pending_table {
    struct pending_entry *slots; /* mask + 1 slots, a power of two above max */
    uint32_t mask;
    uint32_t count; /* entries in use */
    uint32_t max;   /* the most entries in use at once */
    uint32_t next_id;
};

/* Room for max requests in flight. Returns 0, or -1 when memory ran out. */
int pending_init(struct pending_table *t, uint32_t max) __attribute__((warn_unused_result));
void pending_free(struct pending_table *t);

/*
 * A free entry with a fresh request id (never 0, never one in use), or NULL when max are in
 * flight. The caller fills kind, cb and arg.
 */
struct pending_entry *pending_add(struct pending_table *t);

/* The entry of request id, or NULL. */
struct pending_entry *pending_find(struct pending_table *t, uint32_t id);

/* Give back e's slot (its id may be used again). */
void pending_remove(struct pending_table *t, struct pending_entry *e);

#endif
