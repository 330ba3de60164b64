/*
 * rs_msg_encode: the field tables walked in canonical order into a msgpack_packer that
 * appends to an rs_buf. Header space first, then the body, then the length patched in.
 */
#include "reseolio/msg.h"

#include <msgpack.h>
#include <string.h>

#include "fields.h"

/* One encode in progress. */
struct encode {
    struct rs_buf *out;
    enum rs_code rc; /* the first failure; once set, nothing more is written */
    msgpack_packer pk;
};

/* A value writer of one field kind: packs the member of the struct at base, or sets rc. */
typedef void (*encode_fn)(struct encode *e, const struct field *f, const void *base);

static void encode_map(struct encode *e, const struct field_table *t, const void *base);

/* Remember the first failure. */
static void encode_fail(struct encode *e, enum rs_code rc)
{
    if (e->rc == RS_OK)
        e->rc = rc;
}

/* The packer's write callback: append, telling a full buffer from a failed allocation. */
static int encode_write(void *data, const char *buf, size_t len)
{
    struct encode *e = data;
    if (e->rc != RS_OK)
        return -1;
    if (rs_buf_append(e->out, buf, len) == 0)
        return 0;
    size_t limit = e->out->limit;
    bool full = limit != 0 && (e->out->len > limit || len > limit - e->out->len);
    encode_fail(e, full ? RS_E_LIMIT : RS_E_INTERNAL);
    return -1;
}

/* An unsigned integer, in its smallest encoding. */
static void encode_uint(struct encode *e, const struct field *f, const void *base)
{
    uint64_t v = *(const uint64_t *)FIELD_CAT(base, f->off);
    if (field_check_uint(f, v) != NULL)
        encode_fail(e, RS_E_BAD_VALUE);
    else
        msgpack_pack_uint64(&e->pk, v);
}

/* A signed integer: positive values take the unsigned encodings, as msgpack-c picks. */
static void encode_int(struct encode *e, const struct field *f, const void *base)
{
    int64_t v = *(const int64_t *)FIELD_CAT(base, f->off);
    if (field_check_int(f, v) != NULL)
        encode_fail(e, RS_E_BAD_VALUE);
    else
        msgpack_pack_int64(&e->pk, v);
}

/* A float, always as float 64. */
static void encode_float(struct encode *e, const struct field *f, const void *base)
{
    double v = *(const double *)FIELD_CAT(base, f->off);
    if (field_check_float(f, v) != NULL)
        encode_fail(e, RS_E_BAD_VALUE);
    else
        msgpack_pack_double(&e->pk, v);
}

/* A boolean. */
static void encode_bool(struct encode *e, const struct field *f, const void *base)
{
    if (*(const bool *)FIELD_CAT(base, f->off))
        msgpack_pack_true(&e->pk);
    else
        msgpack_pack_false(&e->pk);
}

/* The string s under rule f; a missing required string is a bad value. */
static void encode_text(struct encode *e, const struct field *f, const struct rs_str *s)
{
    if (s->ptr == NULL || field_check_str(f, s->ptr, s->len) != NULL) {
        encode_fail(e, RS_E_BAD_VALUE);
        return;
    }
    msgpack_pack_str(&e->pk, s->len);
    msgpack_pack_str_body(&e->pk, s->ptr, s->len);
}

/* A string member. */
static void encode_str(struct encode *e, const struct field *f, const void *base)
{
    encode_text(e, f, FIELD_CAT(base, f->off));
}

/* A byte string; a required one without a pointer is sent empty. */
static void encode_bin(struct encode *e, const struct field *f, const void *base)
{
    const struct rs_bytes *b = FIELD_CAT(base, f->off);
    if (b->ptr == NULL && b->len != 0) {
        encode_fail(e, RS_E_BAD_VALUE);
        return;
    }
    msgpack_pack_bin(&e->pk, b->len);
    msgpack_pack_bin_body(&e->pk, b->ptr, b->len);
}

/* An enum, as its wire name; a value the field does not allow is a bad value. */
static void encode_enum(struct encode *e, const struct field *f, const void *base)
{
    const char *name = field_enum_name(f, *(const int *)FIELD_CAT(base, f->off));
    if (name == NULL) {
        encode_fail(e, RS_E_BAD_VALUE);
        return;
    }
    size_t len = strlen(name);
    msgpack_pack_str(&e->pk, len);
    msgpack_pack_str_body(&e->pk, name, len);
}

/* The entries of an array member: their address and count, after the count check. */
static const void *encode_array(struct encode *e, const struct field *f, const void *base,
                                uint32_t *n)
{
    const void *a;
    memcpy(&a, FIELD_CAT(base, f->off), sizeof(a)); /* the member is a typed pointer */
    *n = *(const uint32_t *)FIELD_CAT(base, f->aux);
    if (field_check_count(f, *n) != NULL || (a == NULL && *n > 0)) {
        encode_fail(e, RS_E_BAD_VALUE);
        return NULL;
    }
    msgpack_pack_array(&e->pk, *n);
    return a;
}

/* REGISTER's names. */
static void encode_names(struct encode *e, const struct field *f, const void *base)
{
    uint32_t n = 0;
    const struct rs_str *names = encode_array(e, f, base, &n);
    for (uint32_t i = 0; names != NULL && i < n && e->rc == RS_OK; i++)
        encode_text(e, f->elem, &names[i]);
}

/* An array of maps: JOBS's jobs, SCHEDULES's schedules. */
static void encode_jobs(struct encode *e, const struct field *f, const void *base)
{
    uint32_t n = 0;
    const char *entries = encode_array(e, f, base, &n);
    for (uint32_t i = 0; entries != NULL && i < n && e->rc == RS_OK; i++)
        encode_map(e, f->sub, entries + i * f->size);
}

/* The writer of each field kind. */
static const encode_fn encoders[] = {
    [FIELD_UINT] = encode_uint, [FIELD_INT] = encode_int,     [FIELD_FLOAT] = encode_float,
    [FIELD_BOOL] = encode_bool, [FIELD_STR] = encode_str,     [FIELD_BIN] = encode_bin,
    [FIELD_ENUM] = encode_enum, [FIELD_NAMES] = encode_names, [FIELD_JOBS] = encode_jobs,
};

/* The fields of the struct at base as a map: present ones only, in table order. */
static void encode_map(struct encode *e, const struct field_table *t, const void *base)
{
    if (t->check != NULL && t->check(base) != NULL) {
        encode_fail(e, RS_E_BAD_VALUE);
        return;
    }
    uint32_t n = 0;
    for (unsigned i = 0; i < t->count; i++)
        n += field_present(&t->fields[i], base);
    msgpack_pack_map(&e->pk, n);
    for (unsigned i = 0; i < t->count && e->rc == RS_OK; i++) {
        const struct field *f = &t->fields[i];
        if (!field_present(f, base))
            continue;
        size_t klen = strlen(f->key);
        msgpack_pack_str(&e->pk, klen);
        msgpack_pack_str_body(&e->pk, f->key, klen);
        encoders[f->kind](e, f, base);
    }
}

/* Append [type, request id, fields] as one frame; out is restored on any failure. */
enum rs_code rs_msg_encode(struct rs_buf *out, const struct rs_msg *msg)
{
    static const uint8_t header[RS_FRAME_HEADER];
    const struct field_table *t = field_table_of((int)msg->type);
    if (t == NULL)
        return RS_E_BAD_VALUE;

    struct encode e = {.out = out, .rc = RS_OK};
    size_t start = out->len;
    msgpack_packer_init(&e.pk, &e, encode_write);
    if (encode_write(&e, (const char *)header, sizeof(header)) == 0) {
        msgpack_pack_array(&e.pk, 3);
        msgpack_pack_uint64(&e.pk, (uint64_t)msg->type);
        msgpack_pack_uint64(&e.pk, msg->request_id);
        encode_map(&e, t, &msg->u);
    }
    size_t body = out->len - start - RS_FRAME_HEADER;
    if (e.rc == RS_OK && body > RS_MAX_FRAME_HARD)
        e.rc = RS_E_BAD_VALUE; /* no peer may accept it */
    if (e.rc != RS_OK) {
        out->len = start;
        return e.rc;
    }
    uint8_t *h = out->data + start;
    h[0] = (uint8_t)(body >> 24);
    h[1] = (uint8_t)(body >> 16);
    h[2] = (uint8_t)(body >> 8);
    h[3] = (uint8_t)body;
    return RS_OK;
}
