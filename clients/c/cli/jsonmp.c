/*
 * JSON to MessagePack with msgpack-c's packer: integers in their smallest encoding, reals as
 * float 64, objects as maps in their order, and the "$tag" objects of mpjson.h as the values
 * they stand for. Errors say where in the document they are.
 */
#include "jsonmp.h"

#include <errno.h>
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpbound.h"
#include "mpjson.h"

/* One encoding: the packer, where we are in the document, the first error. */
struct jsonmp {
    msgpack_packer pk;
    char path[256]; /* e.g. "[2].user" */
    size_t path_len;
    char *err;
    size_t err_size;
};

static int jsonmp_value(struct jsonmp *m, const json_t *j, int depth);

/* Record an error at the current path; returns -1. */
__attribute__((format(printf, 2, 3))) static int jsonmp_fail(struct jsonmp *m, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(m->err, m->err_size, "%s%s%s", m->path, m->path_len > 0 ? ": " : "", msg);
    return -1;
}

/* Append a path segment; returns the length to restore. */
__attribute__((format(printf, 2, 3))) static size_t jsonmp_path_push(struct jsonmp *m,
                                                                     const char *fmt, ...)
{
    size_t old = m->path_len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(m->path + old, sizeof(m->path) - old, fmt, ap);
    va_end(ap);
    if (n > 0)
        m->path_len = old + (size_t)n < sizeof(m->path) ? old + (size_t)n : sizeof(m->path) - 1;
    return old;
}

static void jsonmp_path_pop(struct jsonmp *m, size_t old)
{
    m->path_len = old;
    m->path[old] = '\0';
}

/* Decode hex into a new buffer (*out, *len); -1 when it is not an even run of hex digits. */
static int jsonmp_unhex(const json_t *s, uint8_t **out, size_t *len)
{
    if (!json_is_string(s))
        return -1;
    const char *p = json_string_value(s);
    size_t n = json_string_length(s);
    if (n % 2 != 0)
        return -1;
    uint8_t *b = malloc(n / 2 + 1);
    if (b == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        int v = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (v < 0) {
            free(b);
            return -1;
        }
        b[i / 2] = (uint8_t)(i % 2 == 0 ? v << 4 : b[i / 2] | v);
    }
    *out = b;
    *len = n / 2;
    return 0;
}

/* {"$bin": hex}, {"$str_hex": hex} and {"$ext": [type, hex]}: bytes with a header. */
static int jsonmp_bytes(struct jsonmp *m, const char *tag, const json_t *v)
{
    bool ext = strcmp(tag, MPJSON_EXT) == 0;
    const json_t *hex = ext ? json_array_get(v, 1) : v;
    json_int_t type = ext ? json_integer_value(json_array_get(v, 0)) : 0;
    if (ext && (json_array_size(v) != 2 || !json_is_integer(json_array_get(v, 0)) || type < -128 ||
                type > 127))
        return jsonmp_fail(m, "%s takes [type (-128..127), \"hex\"]", tag);
    uint8_t *b;
    size_t n;
    if (jsonmp_unhex(hex, &b, &n) != 0)
        return jsonmp_fail(m, "%s takes a string of hex digits, two per byte", tag);
    int rc;
    if (ext)
        rc = msgpack_pack_ext(&m->pk, n, (int8_t)type) || msgpack_pack_ext_body(&m->pk, b, n);
    else if (strcmp(tag, MPJSON_BIN) == 0)
        rc = msgpack_pack_bin(&m->pk, n) || msgpack_pack_bin_body(&m->pk, b, n);
    else
        rc = msgpack_pack_str(&m->pk, n) || msgpack_pack_str_body(&m->pk, b, n);
    free(b);
    return rc == 0 ? 0 : jsonmp_fail(m, "out of memory");
}

/* {"$uint": "decimal"} and {"$float": "NaN" | "Infinity" | "-Infinity"}. */
static int jsonmp_number(struct jsonmp *m, const char *tag, const json_t *v)
{
    const char *s = json_string_value(v);
    if (strcmp(tag, MPJSON_UINT) == 0) {
        char *end = NULL;
        errno = 0;
        unsigned long long u = s != NULL ? strtoull(s, &end, 10) : 0;
        if (s == NULL || s[0] < '0' || s[0] > '9' || *end != '\0' || errno == ERANGE)
            return jsonmp_fail(m, "%s takes a decimal string up to 18446744073709551615", tag);
        return msgpack_pack_uint64(&m->pk, (uint64_t)u) == 0 ? 0 : jsonmp_fail(m, "out of memory");
    }
    double d;
    if (s != NULL && strcmp(s, "NaN") == 0)
        d = NAN;
    else if (s != NULL && strcmp(s, "Infinity") == 0)
        d = INFINITY;
    else if (s != NULL && strcmp(s, "-Infinity") == 0)
        d = -INFINITY;
    else
        return jsonmp_fail(m, "%s takes \"NaN\", \"Infinity\" or \"-Infinity\"", tag);
    return msgpack_pack_double(&m->pk, d) == 0 ? 0 : jsonmp_fail(m, "out of memory");
}

/* {"$map": [[key, value], ...]}: a map with keys of any type. */
static int jsonmp_pairs(struct jsonmp *m, const json_t *v, int depth)
{
    if (!json_is_array(v))
        return jsonmp_fail(m, "%s takes an array of [key, value] pairs", MPJSON_MAP);
    size_t n = json_array_size(v);
    for (size_t i = 0; i < n; i++)
        if (json_array_size(json_array_get(v, i)) != 2 || !json_is_array(json_array_get(v, i)))
            return jsonmp_fail(m, "%s: entry %zu is not a [key, value] pair", MPJSON_MAP, i);
    if (n > UINT32_MAX || msgpack_pack_map(&m->pk, n) != 0)
        return jsonmp_fail(m, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *pair = json_array_get(v, i);
        size_t old = jsonmp_path_push(m, ".%s[%zu]", MPJSON_MAP, i);
        int rc = jsonmp_value(m, json_array_get(pair, 0), depth) ||
                 jsonmp_value(m, json_array_get(pair, 1), depth);
        jsonmp_path_pop(m, old);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* An object with one "$..." key: a tag of mpjson.h, or an error (a typo must not pass). */
static int jsonmp_tagged(struct jsonmp *m, const char *tag, const json_t *v, int depth)
{
    if (strcmp(tag, MPJSON_BIN) == 0 || strcmp(tag, MPJSON_STR_HEX) == 0 ||
        strcmp(tag, MPJSON_EXT) == 0)
        return jsonmp_bytes(m, tag, v);
    if (strcmp(tag, MPJSON_UINT) == 0 || strcmp(tag, MPJSON_FLOAT) == 0)
        return jsonmp_number(m, tag, v);
    if (strcmp(tag, MPJSON_MAP) == 0)
        return jsonmp_pairs(m, v, depth);
    return jsonmp_fail(m,
                       "unknown tag \"%s\" (a map whose one key starts with '$' is written "
                       "{\"$map\": [[\"%s\", value]]})",
                       tag, tag);
}

/* A plain object: a map with its keys in order. */
static int jsonmp_object(struct jsonmp *m, const json_t *j, int depth)
{
    if (json_object_size(j) == 1) {
        const char *k = json_object_iter_key(json_object_iter((json_t *)j));
        if (k[0] == '$')
            return jsonmp_tagged(m, k, json_object_get(j, k), depth);
    }
    if (json_object_size(j) > UINT32_MAX || msgpack_pack_map(&m->pk, json_object_size(j)) != 0)
        return jsonmp_fail(m, "out of memory");
    const char *k;
    size_t klen;
    json_t *v;
    json_object_keylen_foreach((json_t *)j, k, klen, v)
    {
        if (msgpack_pack_str(&m->pk, klen) != 0 || msgpack_pack_str_body(&m->pk, k, klen) != 0)
            return jsonmp_fail(m, "out of memory");
        size_t old = jsonmp_path_push(m, ".%.*s", (int)(klen < 64 ? klen : 64), k);
        int rc = jsonmp_value(m, v, depth);
        jsonmp_path_pop(m, old);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* An array, element by element. */
static int jsonmp_array(struct jsonmp *m, const json_t *j, int depth)
{
    size_t n = json_array_size(j);
    if (n > UINT32_MAX || msgpack_pack_array(&m->pk, n) != 0)
        return jsonmp_fail(m, "out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t old = jsonmp_path_push(m, "[%zu]", i);
        int rc = jsonmp_value(m, json_array_get(j, i), depth);
        jsonmp_path_pop(m, old);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* One value at nesting depth (the containers around it). */
static int jsonmp_value(struct jsonmp *m, const json_t *j, int depth)
{
    int rc;
    switch (json_typeof(j)) {
    case JSON_OBJECT:
    case JSON_ARRAY:
        if (depth >= MPBOUND_MAX_DEPTH)
            return jsonmp_fail(m, "nested deeper than %d arrays and objects", MPBOUND_MAX_DEPTH);
        return json_is_array(j) ? jsonmp_array(m, j, depth + 1) : jsonmp_object(m, j, depth + 1);
    case JSON_STRING:
        rc = msgpack_pack_str(&m->pk, json_string_length(j)) ||
             msgpack_pack_str_body(&m->pk, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        rc = msgpack_pack_int64(&m->pk, (int64_t)json_integer_value(j));
        break;
    case JSON_REAL:
        rc = msgpack_pack_double(&m->pk, json_real_value(j));
        break;
    case JSON_TRUE:
        rc = msgpack_pack_true(&m->pk);
        break;
    case JSON_FALSE:
        rc = msgpack_pack_false(&m->pk);
        break;
    default:
        rc = msgpack_pack_nil(&m->pk);
        break;
    }
    return rc == 0 ? 0 : jsonmp_fail(m, "out of memory");
}

/* Pack into an sbuffer, whose bytes become the caller's. */
int jsonmp_encode(const json_t *j, struct jsonmp_out *out, char *err, size_t err_size)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    struct jsonmp m = {.err = err, .err_size = err_size};
    msgpack_packer_init(&m.pk, &sb, msgpack_sbuffer_write);
    if (jsonmp_value(&m, j, 0) != 0) {
        msgpack_sbuffer_destroy(&sb);
        out->data = NULL;
        out->size = 0;
        return -1;
    }
    out->size = sb.size;
    out->data = msgpack_sbuffer_release(&sb);
    return 0;
}

/* Free the bytes. */
void jsonmp_free(struct jsonmp_out *out)
{
    free(out->data);
    out->data = NULL;
    out->size = 0;
}
