/*
 * The requests a client has sent and not yet seen answered: a bounded table from request id
 * to the callback that takes the reply. Ids are chosen so that lookup is one slot.
 */
#include "pending.h"

#include <stdlib.h>

/* Twice the limit, rounded up to a power of two: a free slot is always near. */
int pending_init(struct pending_table *t, uint32_t max)
{
    uint32_t n = 2;
    while (n < 2 * max)
        n *= 2;
    t->slots = calloc(n, sizeof(*t->slots));
    if (t->slots == NULL)
        return -1;
    t->mask = n - 1;
    t->count = 0;
    t->max = max;
    t->next_id = 0;
    return 0;
}

void pending_free(struct pending_table *t)
{
    free(t->slots);
    t->slots = NULL;
    t->count = 0;
}

/*
 * Ids go up by one, skipping 0 and any id whose slot is taken by a request still in flight
 * (a long AWAIT): since fewer than half the slots are used, the skip is short.
 */
struct pending_entry *pending_add(struct pending_table *t)
{
    if (t->count >= t->max)
        return NULL;
    for (;;) {
        uint32_t id = ++t->next_id;
        if (id == 0)
            continue;
        struct pending_entry *e = &t->slots[id & t->mask];
        if (e->id != 0)
            continue;
        e->id = id;
        e->kind = 0;
        e->cb = NULL;
        e->arg = NULL;
        t->count++;
        return e;
    }
}

struct pending_entry *pending_find(struct pending_table *t, uint32_t id)
{
    if (id == 0 || t->slots == NULL)
        return NULL;
    struct pending_entry *e = &t->slots[id & t->mask];
    return e->id == id ? e : NULL;
}

void pending_remove(struct pending_table *t, struct pending_entry *e)
{
    e->id = 0;
    e->cb = NULL;
    e->arg = NULL;
    t->count--;
}
