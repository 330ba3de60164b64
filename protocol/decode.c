/*
 * rs_msg_decode: the bounds walk, then msgpack-c, then the envelope, then the fields of the
 * type's table. Strings and byte strings point into the body: msgpack-c references them.
 */
#include "reseolio/msg.h"

#include <inttypes.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"
#include "mpcheck.h"

/*
 * An array the decoder allocated (REGISTER's names, the entries of a list of maps): a message
 * may carry several (STATISTICS has three), so they are chained and freed together.
 */
struct decode_owned {
    struct decode_owned *next;
    max_align_t entries[]; /* the array itself */
};

/* One decode in progress: where its error goes and the arrays it allocated. */
struct decode {
    struct rs_error *err;
    struct decode_owned *owned; /* freed on failure, else given to the msg */
};

/* Free a chain of decoder arrays. */
static void decode_free_owned(struct decode_owned *o)
{
    while (o != NULL) {
        struct decode_owned *next = o->next;
        free(o);
        o = next;
    }
}

/*
 * A field's value handler: stores o into the struct at base, or returns a code and sets
 * *why (left NULL when the handler reported the error itself, with a more precise path).
 */
typedef enum rs_code (*decode_fn)(struct decode *d, const struct field *f, const msgpack_object *o,
                                  void *base, const char *where, const char **why);

static enum rs_code decode_map(struct decode *d, const struct field_table *t, const char *where,
                               const msgpack_object_map *m, void *base);

/* Record the error: code and a printf-style message. Returns code. */
__attribute__((format(printf, 3, 4))) static enum rs_code
decode_fail(struct decode *d, enum rs_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err->message, sizeof(d->err->message), fmt, ap);
    va_end(ap);
    d->err->code = code;
    return code;
}

/* Report why the value at path broke rule f, adding the allowed range to a range failure. */
static enum rs_code decode_report(struct decode *d, enum rs_code rc, const char *path,
                                  const struct field *f, const char *why)
{
    char range[48] = "";
    if (rc == RS_E_BAD_VALUE && strstr(why, "range") != NULL)
        field_range(f, range, sizeof(range));
    return decode_fail(d, rc, "%s: %s%s", path, why, range);
}

/* An unsigned integer field. */
static enum rs_code decode_uint(struct decode *d, const struct field *f, const msgpack_object *o,
                                void *base, const char *where, const char **why)
{
    void *p = FIELD_AT(base, f->off);
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *why = "negative";
        return RS_E_BAD_VALUE;
    }
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        *why = "expected uint";
        return RS_E_BAD_TYPE;
    }
    if ((*why = field_check_uint(f, o->via.u64)) != NULL)
        return RS_E_BAD_VALUE;
    *(uint64_t *)p = o->via.u64;
    return RS_OK;
}

/* A signed 64-bit integer field, whatever integer encoding carried it. */
static enum rs_code decode_int(struct decode *d, const struct field *f, const msgpack_object *o,
                               void *base, const char *where, const char **why)
{
    void *p = FIELD_AT(base, f->off);
    int64_t v;
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        v = o->via.i64;
    } else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > INT64_MAX) {
            *why = "out of range";
            return RS_E_BAD_VALUE;
        }
        v = (int64_t)o->via.u64;
    } else {
        *why = "expected int";
        return RS_E_BAD_TYPE;
    }
    if ((*why = field_check_int(f, v)) != NULL)
        return RS_E_BAD_VALUE;
    *(int64_t *)p = v;
    return RS_OK;
}

/* A float field: float 32, float 64 or an integer. */
static enum rs_code decode_float(struct decode *d, const struct field *f, const msgpack_object *o,
                                 void *base, const char *where, const char **why)
{
    void *p = FIELD_AT(base, f->off);
    double v;
    if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64) {
        v = o->via.f64;
    } else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        v = (double)o->via.u64;
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        v = (double)o->via.i64;
    } else {
        *why = "expected float";
        return RS_E_BAD_TYPE;
    }
    if ((*why = field_check_float(f, v)) != NULL)
        return RS_E_BAD_VALUE;
    *(double *)p = v;
    return RS_OK;
}

/* A boolean field. */
static enum rs_code decode_bool(struct decode *d, const struct field *f, const msgpack_object *o,
                                void *base, const char *where, const char **why)
{
    void *p = FIELD_AT(base, f->off);
    if (o->type != MSGPACK_OBJECT_BOOLEAN) {
        *why = "expected bool";
        return RS_E_BAD_TYPE;
    }
    *(bool *)p = o->via.boolean;
    return RS_OK;
}

/* A string field; the result points into the body (never NULL: present means non-NULL). */
static enum rs_code decode_str(struct decode *d, const struct field *f, const msgpack_object *o,
                               void *base, const char *where, const char **why)
{
    void *p = FIELD_AT(base, f->off);
    if (o->type != MSGPACK_OBJECT_STR) {
        *why = "expected str";
        return RS_E_BAD_TYPE;
    }
    if ((*why = field_check_str(f, o->via.str.ptr, o->via.str.size)) != NULL)
        return RS_E_BAD_VALUE;
    struct rs_str *s = p;
    s->ptr = o->via.str.ptr ? o->via.str.ptr : "";
    s->len = o->via.str.size;
    return RS_OK;
}

/* A binary field; the result points into the body. */
static enum rs_code decode_bin(struct decode *d, const struct field *f, const msgpack_object *o,
                               void *base, const char *where, const char **why)
{
    void *p = FIELD_AT(base, f->off);
    static const uint8_t empty[1];
    if (o->type != MSGPACK_OBJECT_BIN) {
        *why = "expected bin";
        return RS_E_BAD_TYPE;
    }
    struct rs_bytes *b = p;
    b->ptr = o->via.bin.ptr ? (const uint8_t *)o->via.bin.ptr : empty;
    b->len = o->via.bin.size;
    return RS_OK;
}

/* An enum field, sent as one of its wire names. */
static enum rs_code decode_enum(struct decode *d, const struct field *f, const msgpack_object *o,
                                void *base, const char *where, const char **why)
{
    void *p = FIELD_AT(base, f->off);
    if (o->type != MSGPACK_OBJECT_STR) {
        *why = "expected str";
        return RS_E_BAD_TYPE;
    }
    int v = field_enum_parse(f, o->via.str.ptr, o->via.str.size);
    if (v < 0) {
        *why = "not one of the allowed values";
        return RS_E_BAD_VALUE;
    }
    *(int *)p = v;
    return RS_OK;
}

/* Check an array field's entry count, then allocate its entries (owned by the decode). */
static enum rs_code decode_array(struct decode *d, const struct field *f, const msgpack_object *o,
                                 void *base, size_t size, const char **why, void **out)
{
    if (o->type != MSGPACK_OBJECT_ARRAY) {
        *why = "expected array";
        return RS_E_BAD_TYPE;
    }
    if ((*why = field_check_count(f, o->via.array.size)) != NULL)
        return RS_E_BAD_VALUE;
    void *a = NULL;
    if (o->via.array.size > 0) {
        /* size is a struct's, the count is bounded by the field's max: no overflow */
        struct decode_owned *own = calloc(1, sizeof(*own) + (size_t)o->via.array.size * size);
        if (own == NULL) {
            *why = "out of memory";
            return RS_E_INTERNAL;
        }
        own->next = d->owned;
        d->owned = own;
        a = own->entries;
    }
    memcpy(FIELD_AT(base, f->off), &a, sizeof(a)); /* the member is a typed pointer */
    *(uint32_t *)FIELD_AT(base, f->aux) = o->via.array.size;
    *out = a;
    return RS_OK;
}

/* REGISTER's names: an array of function names. */
static enum rs_code decode_names(struct decode *d, const struct field *f, const msgpack_object *o,
                                 void *base, const char *where, const char **why)
{
    void *a = NULL;
    enum rs_code rc = decode_array(d, f, o, base, sizeof(struct rs_str), why, &a);
    if (rc != RS_OK)
        return rc;
    struct rs_str *names = a;
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const char *bad = NULL;
        rc = decode_str(d, f->elem, &o->via.array.ptr[i], &names[i], where, &bad);
        if (rc != RS_OK) {
            char path[64];
            snprintf(path, sizeof(path), "%s.%s[%" PRIu32 "]", where, f->key, i);
            return decode_report(d, rc, path, f->elem, bad);
        }
    }
    return RS_OK;
}

/* An array of maps: JOBS's jobs (fields of JOB), SCHEDULES's schedules (of SCHEDULE). */
static enum rs_code decode_jobs(struct decode *d, const struct field *f, const msgpack_object *o,
                                void *base, const char *where, const char **why)
{
    void *a = NULL;
    enum rs_code rc = decode_array(d, f, o, base, f->size, why, &a);
    if (rc != RS_OK)
        return rc;
    char *entries = a;
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        char at[48];
        snprintf(at, sizeof(at), "%s.%s[%" PRIu32 "]", where, f->key, i);
        if (o->via.array.ptr[i].type != MSGPACK_OBJECT_MAP)
            return decode_fail(d, RS_E_BAD_TYPE, "%s: expected map", at);
        rc = decode_map(d, f->sub, at, &o->via.array.ptr[i].via.map, entries + i * f->size);
        if (rc != RS_OK)
            return rc;
    }
    return RS_OK;
}

/* The handler of each field kind. */
static const decode_fn decoders[] = {
    [FIELD_UINT] = decode_uint, [FIELD_INT] = decode_int,     [FIELD_FLOAT] = decode_float,
    [FIELD_BOOL] = decode_bool, [FIELD_STR] = decode_str,     [FIELD_BIN] = decode_bin,
    [FIELD_ENUM] = decode_enum, [FIELD_NAMES] = decode_names, [FIELD_JOBS] = decode_jobs,
};

/* Decode one field's value into the struct at base, reporting "where.key: why (range)". */
static enum rs_code decode_value(struct decode *d, const struct field *f, const msgpack_object *o,
                                 void *base, const char *where)
{
    const char *why = NULL;
    enum rs_code rc = decoders[f->kind](d, f, o, base, where, &why);
    if (rc == RS_OK || why == NULL)
        return rc;
    char path[64];
    snprintf(path, sizeof(path), "%s.%s", where, f->key);
    return decode_report(d, rc, path, f, why);
}

/* The row of t whose key is the string k, or NULL (an unknown key, ignored). */
static const struct field *decode_find(const struct field_table *t, const msgpack_object_str *k)
{
    for (unsigned i = 0; i < t->count; i++) {
        const char *key = t->fields[i].key;
        if (strlen(key) == k->size && memcmp(key, k->ptr, k->size) == 0)
            return &t->fields[i];
    }
    return NULL;
}

/* Decode the map m into the (zeroed) struct at base following table t. */
static enum rs_code decode_map(struct decode *d, const struct field_table *t, const char *where,
                               const msgpack_object_map *m, void *base)
{
    uint32_t seen = 0, given = 0; /* bit i: row i appeared / had a non-nil value */
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object_kv *kv = &m->ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            return decode_fail(d, RS_E_BAD_TYPE, "%s: a key is not a string", where);
        const struct field *f = decode_find(t, &kv->key.via.str);
        if (f == NULL)
            continue;
        uint32_t bit = 1u << (f - t->fields);
        if (seen & bit)
            return decode_fail(d, RS_E_BAD_VALUE, "%s.%s: given twice", where, f->key);
        seen |= bit;
        if (kv->val.type == MSGPACK_OBJECT_NIL)
            continue; /* nil means absent */
        enum rs_code rc = decode_value(d, f, &kv->val, base, where);
        if (rc != RS_OK)
            return rc;
        field_mark(f, base);
        given |= bit;
    }
    for (unsigned i = 0; i < t->count; i++) {
        const struct field *f = &t->fields[i];
        if (given & (1u << i))
            continue;
        if (f->presence == FIELD_REQUIRED)
            return decode_fail(d, RS_E_MISSING_FIELD, "%s.%s: missing", where, f->key);
        field_default(f, base);
    }
    const char *why = t->check ? t->check(base) : NULL;
    return why ? decode_fail(d, RS_E_BAD_VALUE, "%s: %s", where, why) : RS_OK;
}

/* Check [type, request id, fields]; sets the request id as soon as it is known. */
static enum rs_code decode_envelope(struct decode *d, const msgpack_object *root,
                                    struct rs_msg *msg, const struct field_table **t)
{
    if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size != 3)
        return decode_fail(d, RS_E_BAD_ENVELOPE, "body: not an array of 3 elements");
    const msgpack_object *e = root->via.array.ptr;
    bool id_ok = e[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER && e[1].via.u64 <= UINT32_MAX;
    if (id_ok)
        msg->request_id = (uint32_t)e[1].via.u64;
    if (e[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return decode_fail(d, RS_E_BAD_ENVELOPE, "body: type is not an unsigned integer");
    if (!id_ok)
        return decode_fail(d, RS_E_BAD_ENVELOPE, "body: request id is not in 0..4294967295");
    if (e[2].type != MSGPACK_OBJECT_MAP)
        return decode_fail(d, RS_E_BAD_ENVELOPE, "body: fields are not a map");
    for (uint32_t i = 0; i < e[2].via.map.size; i++) {
        if (e[2].via.map.ptr[i].key.type != MSGPACK_OBJECT_STR)
            return decode_fail(d, RS_E_BAD_ENVELOPE, "body: a field key is not a string");
    }
    uint64_t type = e[0].via.u64;
    *t = type <= 0xff ? field_table_of((int)type) : NULL;
    if (*t == NULL)
        return decode_fail(d, RS_E_UNKNOWN_TYPE, "body: unknown message type %" PRIu64, type);
    msg->type = (enum rs_msg_type)type;
    return RS_OK;
}

/* Say what the bounds walk found. */
static enum rs_code decode_walk_fail(struct decode *d, enum rs_code rc, const struct rs_limits *lim)
{
    switch (rc) {
    case RS_E_TOO_DEEP:
        return decode_fail(d, rc, "body: nested deeper than %" PRIu32, lim->max_depth);
    case RS_E_TOO_MANY:
        return decode_fail(d, rc, "body: more than %" PRIu32 " values, or a length past its end",
                           lim->max_objects);
    default:
        return decode_fail(d, rc, "body: not exactly one well-formed MessagePack value");
    }
}

/* The protocol's limits (docs/protocol.md §7). */
void rs_limits_default(struct rs_limits *lim)
{
    lim->max_depth = RS_MAX_DEPTH;
    lim->max_objects = RS_MAX_OBJECTS;
}

/* Walk, unpack, check the envelope, decode the fields; see msg.h for the contract. */
enum rs_code rs_msg_decode(struct rs_msg *msg, const uint8_t *body, size_t len,
                           const struct rs_limits *lim, struct rs_error *err)
{
    struct decode d = {err, NULL};
    memset(msg, 0, sizeof(*msg));
    err->code = RS_OK;
    err->message[0] = '\0';

    enum rs_code rc = mpcheck_walk(body, len, lim);
    if (rc != RS_OK)
        return decode_walk_fail(&d, rc, lim);

    msgpack_unpacked up;
    size_t off = 0;
    msgpack_unpacked_init(&up);
    msgpack_unpack_return ur = msgpack_unpack_next(&up, (const char *)body, len, &off);
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
        rc = decode_fail(&d, RS_E_INTERNAL, "body: out of memory");
    else if (ur != MSGPACK_UNPACK_SUCCESS || off != len)
        rc = decode_walk_fail(&d, RS_E_MALFORMED, lim);

    const struct field_table *t = NULL;
    if (rc == RS_OK)
        rc = decode_envelope(&d, &up.data, msg, &t);
    if (rc == RS_OK)
        rc = decode_map(&d, t, t->name, &up.data.via.array.ptr[2].via.map, &msg->u);
    msgpack_unpacked_destroy(&up); /* nothing decoded points into the zone */

    if (rc != RS_OK) {
        decode_free_owned(d.owned);
        memset(&msg->u, 0, sizeof(msg->u));
        return rc;
    }
    msg->owned = d.owned;
    return RS_OK;
}

/* Free the decoder's arrays and forget the pointers into them. */
void rs_msg_free(struct rs_msg *msg)
{
    decode_free_owned(msg->owned);
    msg->owned = NULL;
    if (msg->type == RS_MSG_REGISTER) {
        msg->u.reg.names = NULL;
        msg->u.reg.nnames = 0;
    } else if (msg->type == RS_MSG_JOBS) {
        msg->u.jobs.jobs = NULL;
        msg->u.jobs.njobs = 0;
    } else if (msg->type == RS_MSG_SCHEDULES) {
        msg->u.schedules.schedules = NULL;
        msg->u.schedules.nschedules = 0;
    } else if (msg->type == RS_MSG_STATISTICS) {
        msg->u.stats.functions = NULL;
        msg->u.stats.nfunctions = 0;
        msg->u.stats.queues = NULL;
        msg->u.stats.nqueues = 0;
        msg->u.stats.nodes = NULL;
        msg->u.stats.nnodes = 0;
    }
}
