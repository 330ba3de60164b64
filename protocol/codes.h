/*
 * Name tables shared inside the protocol library: the wire strings of the enums, so that
 * the field tables (fields.c) and the public name/parse functions use one list.
 */
#ifndef RESEOLIO_PROTOCOL_CODES_H
#define RESEOLIO_PROTOCOL_CODES_H

#include <stddef.h>

/* The wire names of one enum, indexed by its C value. */
struct codes_enum {
    const char *const *names;
    unsigned count;
};

extern const struct codes_enum codes_status;
extern const struct codes_enum codes_backoff;
extern const struct codes_enum codes_abandon;

/* The C value of a wire name, or -1. */
int codes_parse(const struct codes_enum *e, const char *s, size_t len);
/* The wire name of a C value, or NULL when out of range. */
const char *codes_name(const struct codes_enum *e, int v);

#endif
