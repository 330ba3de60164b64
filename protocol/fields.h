/*
 * The field tables of docs/protocol.md §5 in C: for each message type, its fields in
 * canonical order with their types, ranges, presence and defaults. The decoder and the
 * encoder both walk these tables, so a rule is written once and both sides enforce it.
 */
#ifndef RESEOLIO_PROTOCOL_FIELDS_H
#define RESEOLIO_PROTOCOL_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codes.h"

/* How a field's value is stored in its message struct. */
enum field_kind {
    FIELD_UINT,  /* uint64_t, min..max */
    FIELD_INT,   /* int64_t, imin..imax */
    FIELD_FLOAT, /* double, 0..1 (jitter is the only float) */
    FIELD_BOOL,  /* bool */
    FIELD_STR,   /* struct rs_str, length min..max */
    FIELD_BIN,   /* struct rs_bytes */
    FIELD_ENUM,  /* an enum (int-sized), one of names on the wire */
    FIELD_NAMES, /* struct rs_str * and a uint32_t count at aux; each entry checked by elem */
    FIELD_JOBS,  /* an array of maps (JOBS jobs, SCHEDULES schedules): a pointer to entries of
                    `size` bytes and a uint32_t count at aux; each entry a map of sub */
};

/* How the presence of a field is recorded. */
enum field_presence {
    FIELD_REQUIRED,
    FIELD_BIT,  /* bit in the uint32_t `has` at aux */
    FIELD_FLAG, /* the bool at aux */
    FIELD_PTR,  /* a string or byte string with ptr != NULL */
};

/* A default for an absent optional scalar. */
union field_default {
    uint64_t u;
    int64_t i;
    double f;
    bool b;
};

struct field_table;

/* One row of a §5 table. */
struct field {
    const char *key;
    enum field_kind kind;
    enum field_presence presence;
    size_t off; /* the value, from the start of the message struct */
    size_t aux; /* FIELD_BIT: `has`; FIELD_FLAG: the bool; NAMES/JOBS: the count */
    uint32_t bit;
    uint64_t min, max;  /* UINT value; STR length; NAMES/JOBS entries */
    int64_t imin, imax; /* INT value */
    union field_default def;
    const struct codes_enum *names; /* ENUM */
    uint32_t allowed;               /* ENUM: bit v set when value v may be sent */
    const struct field *elem;       /* NAMES: the rule for each name */
    const struct field_table *sub;  /* JOBS: the fields of each entry */
    size_t size;                    /* JOBS: the size of each entry */
};

/* The fields of one message type (or of a job inside JOBS). */
struct field_table {
    const char *name; /* "ENQUEUE": the start of every error message */
    const struct field *fields;
    unsigned count;
    const char *(*check)(const void *base); /* a rule across fields, NULL when none */
};

/* The table of a message type, or NULL when the type is unknown. */
const struct field_table *field_table_of(int type);

/* Whether an encoder must send f (decoded messages: whether it was given). */
bool field_present(const struct field *f, const void *base);
/* Record that an optional f was given. */
void field_mark(const struct field *f, void *base);
/* Store the protocol default of an absent optional scalar f. */
void field_default(const struct field *f, void *base);

/* The value checks both directions share: NULL when fine, else the reason. */
const char *field_check_uint(const struct field *f, uint64_t v);
const char *field_check_int(const struct field *f, int64_t v);
const char *field_check_float(const struct field *f, double v);
const char *field_check_str(const struct field *f, const char *p, size_t len);
const char *field_check_count(const struct field *f, uint64_t n);
/* The value of an ENUM wire name that f accepts, or -1. */
int field_enum_parse(const struct field *f, const char *s, size_t len);
/* The wire name of an ENUM value that f may send, or NULL. */
const char *field_enum_name(const struct field *f, int v);
/* Write f's allowed range ("1..1000") into buf for error messages; "" when it has none. */
void field_range(const struct field *f, char *buf, size_t n);

/* The address of the member at off in the struct at base (FIELD_CAT: read-only). */
#define FIELD_AT(base, off)  ((void *)((char *)(base) + (off)))
#define FIELD_CAT(base, off) ((const void *)((const char *)(base) + (off)))

#endif
