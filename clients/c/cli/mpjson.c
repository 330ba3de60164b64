/*
 * MessagePack to JSON on msgpack-c objects, after mpbound has checked the bytes. Every
 * MessagePack value has one JSON form, so `jobs show --json` loses nothing (jsonmp.c reads
 * it back); the forms JSON lacks are the "$tag" objects of mpjson.h.
 */
#include "mpjson.h"

#include <inttypes.h>
#include <math.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpbound.h"

static json_t *mpjson_value(const msgpack_object *o);

/* Hex of bytes as a JSON string. */
json_t *mpjson_hex(const uint8_t *p, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * len + 1);
    if (s == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        s[2 * i] = digits[p[i] >> 4];
        s[2 * i + 1] = digits[p[i] & 0x0f];
    }
    s[2 * len] = '\0';
    json_t *j = json_stringn(s, 2 * len);
    free(s);
    return j;
}

/* {"$tag": value}, taking value's reference; NULL when value is NULL. */
static json_t *mpjson_tagged(const char *tag, json_t *value)
{
    if (value == NULL)
        return NULL;
    json_t *o = json_object();
    if (o == NULL || json_object_set_new(o, tag, value) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* A string; bytes that are not valid UTF-8 (json_stringn refuses them) keep their hex. */
static json_t *mpjson_str(const char *p, size_t len)
{
    json_t *s = json_stringn(p, len);
    return s != NULL ? s : mpjson_tagged(MPJSON_STR_HEX, mpjson_hex((const uint8_t *)p, len));
}

/* A float; JSON has no NaN or infinities. */
static json_t *mpjson_float(double v)
{
    if (isnan(v))
        return mpjson_tagged(MPJSON_FLOAT, json_string("NaN"));
    if (isinf(v))
        return mpjson_tagged(MPJSON_FLOAT, json_string(v > 0 ? "Infinity" : "-Infinity"));
    return json_real(v);
}

/* An integer; jansson's is signed 64-bit, so the top half of uint64 is a decimal string. */
static json_t *mpjson_uint(uint64_t v)
{
    if (v <= INT64_MAX)
        return json_integer((json_int_t)v);
    char buf[24];
    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    return mpjson_tagged(MPJSON_UINT, json_string(buf));
}

/* [type, "hex"] of an extension value. */
static json_t *mpjson_ext(const msgpack_object_ext *e)
{
    json_t *pair = json_pack("[io]", (int)e->type, mpjson_hex((const uint8_t *)e->ptr, e->size));
    return mpjson_tagged(MPJSON_EXT, pair);
}

/* An array of the values. */
static json_t *mpjson_array(const msgpack_object_array *a)
{
    json_t *arr = json_array();
    for (uint32_t i = 0; arr != NULL && i < a->size; i++)
        if (json_array_append_new(arr, mpjson_value(&a->ptr[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    return arr;
}

/*
 * True when m reads naturally as a JSON object: string keys in valid UTF-8, none twice, and
 * not one lone "$..." key, which would read as a tag.
 */
static bool mpjson_map_is_object(const msgpack_object_map *m, json_t *keys)
{
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR)
            return false;
        const char *s = k->via.str.ptr;
        size_t n = k->via.str.size;
        json_t *valid = json_stringn(s, n);
        bool fresh = valid != NULL && json_object_getn(keys, s, n) == NULL &&
                     json_object_setn_new_nocheck(keys, s, n, json_null()) == 0;
        json_decref(valid);
        if (!fresh)
            return false;
    }
    return !(m->size == 1 && m->ptr[0].key.via.str.size > 0 && m->ptr[0].key.via.str.ptr[0] == '$');
}

/* An object, or {"$map": [[key, value], ...]} when the keys do not allow one. */
static json_t *mpjson_map(const msgpack_object_map *m)
{
    json_t *keys = json_object();
    if (keys == NULL)
        return NULL;
    bool plain = mpjson_map_is_object(m, keys);
    json_decref(keys);
    json_t *out = plain ? json_object() : json_array();
    for (uint32_t i = 0; out != NULL && i < m->size; i++) {
        const msgpack_object_kv *kv = &m->ptr[i];
        int rc;
        if (plain)
            rc = json_object_setn_new_nocheck(out, kv->key.via.str.ptr, kv->key.via.str.size,
                                              mpjson_value(&kv->val));
        else
            rc = json_array_append_new(
                out, json_pack("[oo]", mpjson_value(&kv->key), mpjson_value(&kv->val)));
        if (rc != 0) {
            json_decref(out);
            out = NULL;
        }
    }
    return plain ? out : mpjson_tagged(MPJSON_MAP, out);
}

/* One value; recursion is bounded by msgpack-c's nesting limit (MPBOUND_MAX_DEPTH). */
static json_t *mpjson_value(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return json_null();
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return mpjson_uint(o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer((json_int_t)o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return mpjson_float(o->via.f64);
    case MSGPACK_OBJECT_STR:
        return mpjson_str(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN:
        return mpjson_tagged(MPJSON_BIN,
                             mpjson_hex((const uint8_t *)o->via.bin.ptr, o->via.bin.size));
    case MSGPACK_OBJECT_EXT:
        return mpjson_ext(&o->via.ext);
    case MSGPACK_OBJECT_ARRAY:
        return mpjson_array(&o->via.array);
    case MSGPACK_OBJECT_MAP:
        return mpjson_map(&o->via.map);
    }
    return NULL;
}

/* Check, unpack, convert; anything that is not one value is shown as its bytes. */
json_t *mpjson_decode(const uint8_t *p, size_t len)
{
    if (!mpbound_check(p, len))
        return mpjson_tagged(MPJSON_RAW, mpjson_hex(p, len));
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    json_t *out;
    if (msgpack_unpack_next(&u, (const char *)p, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len)
        out = mpjson_value(&u.data);
    else
        out = mpjson_tagged(MPJSON_RAW, mpjson_hex(p, len));
    msgpack_unpacked_destroy(&u);
    return out;
}
