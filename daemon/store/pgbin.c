/*
 * pgbin: the binary array layout is: ndim, has-null flag, element OID, then per dimension
 * its length and lower bound, then per element a length (-1 for NULL) and the bytes.
 */
#include "pgbin.h"

#include <stdlib.h>
#include <string.h>

void pgbin_buf_free(struct pgbin_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}

static void pgbin_append(struct pgbin_buf *b, const void *data, size_t len)
{
    if (b->failed)
        return;
    if (len > b->cap - b->len) {
        size_t cap = b->cap > 0 ? b->cap : 256;
        char *p;

        while (cap - b->len < len) {
            if (cap > SIZE_MAX / 2) {
                b->failed = true;
                return;
            }
            cap *= 2;
        }
        p = realloc(b->data, cap);
        if (p == NULL) {
            b->failed = true;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    if (len > 0)
        memcpy(b->data + b->len, data, len);
    b->len += len;
}

void pgbin_put_i64(char *out, int64_t v)
{
    uint64_t u = (uint64_t)v;

    for (int i = 7; i >= 0; i--) {
        out[i] = (char)(u & 0xff);
        u >>= 8;
    }
}

void pgbin_put_i32(char *out, int32_t v)
{
    uint32_t u = (uint32_t)v;

    for (int i = 3; i >= 0; i--) {
        out[i] = (char)(u & 0xff);
        u >>= 8;
    }
}

static void pgbin_int32(struct pgbin_buf *b, int32_t v)
{
    char tmp[4];

    pgbin_put_i32(tmp, v);
    pgbin_append(b, tmp, sizeof(tmp));
}

void pgbin_array_begin(struct pgbin_buf *b, Oid elem_oid, size_t n)
{
    if (n > INT32_MAX) {
        b->failed = true;
        return;
    }
    pgbin_int32(b, n > 0 ? 1 : 0); /* ndim: an empty array has none */
    pgbin_int32(b, 0);             /* has-null flag: the server looks at lengths, not this */
    pgbin_int32(b, (int32_t)elem_oid);
    if (n > 0) {
        pgbin_int32(b, (int32_t)n);
        pgbin_int32(b, 1); /* lower bound */
    }
}

void pgbin_array_null(struct pgbin_buf *b)
{
    pgbin_int32(b, -1);
}

void pgbin_array_bytes(struct pgbin_buf *b, const void *data, size_t len)
{
    if (len > INT32_MAX) {
        b->failed = true;
        return;
    }
    pgbin_int32(b, (int32_t)len);
    pgbin_append(b, data, len);
}

void pgbin_array_i64(struct pgbin_buf *b, int64_t v)
{
    char tmp[8];

    pgbin_put_i64(tmp, v);
    pgbin_int32(b, 8);
    pgbin_append(b, tmp, 8);
}

void pgbin_array_i32(struct pgbin_buf *b, int32_t v)
{
    pgbin_int32(b, 4);
    pgbin_int32(b, v);
}

void pgbin_array_i16(struct pgbin_buf *b, int16_t v)
{
    char tmp[2] = {(char)(((uint16_t)v >> 8) & 0xff), (char)((uint16_t)v & 0xff)};

    pgbin_int32(b, 2);
    pgbin_append(b, tmp, 2);
}

void pgbin_array_bool(struct pgbin_buf *b, bool v)
{
    char tmp = v ? 1 : 0;

    pgbin_int32(b, 1);
    pgbin_append(b, &tmp, 1);
}

void pgbin_array_f32(struct pgbin_buf *b, float v)
{
    uint32_t u;

    memcpy(&u, &v, sizeof(u));
    pgbin_array_i32(b, (int32_t)u);
}

/* The raw bytes of a non-NULL column of exactly size bytes (0: any size). */
static const unsigned char *pgbin_col(const PGresult *res, int row, int col, int size)
{
    if (row < 0 || row >= PQntuples(res) || col < 0 || col >= PQnfields(res) ||
        PQgetisnull(res, row, col) || PQfformat(res, col) != 1)
        return NULL;
    if (size > 0 && PQgetlength(res, row, col) != size)
        return NULL;
    return (const unsigned char *)PQgetvalue(res, row, col);
}

bool pgbin_i64(const PGresult *res, int row, int col, int64_t *out)
{
    const unsigned char *p = pgbin_col(res, row, col, 8);
    uint64_t u = 0;

    if (p == NULL)
        return false;
    for (int i = 0; i < 8; i++)
        u = (u << 8) | p[i];
    *out = (int64_t)u;
    return true;
}

bool pgbin_i32(const PGresult *res, int row, int col, int32_t *out)
{
    const unsigned char *p = pgbin_col(res, row, col, 4);

    if (p == NULL)
        return false;
    *out = (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
    return true;
}

bool pgbin_i16(const PGresult *res, int row, int col, int16_t *out)
{
    const unsigned char *p = pgbin_col(res, row, col, 2);

    if (p == NULL)
        return false;
    *out = (int16_t)((uint16_t)p[0] << 8 | p[1]);
    return true;
}

bool pgbin_bool(const PGresult *res, int row, int col, bool *out)
{
    const unsigned char *p = pgbin_col(res, row, col, 1);

    if (p == NULL)
        return false;
    *out = p[0] != 0;
    return true;
}

bool pgbin_bytes(const PGresult *res, int row, int col, const char **data, size_t *len)
{
    const unsigned char *p = pgbin_col(res, row, col, 0);

    if (p == NULL)
        return false;
    *data = (const char *)p;
    *len = (size_t)PQgetlength(res, row, col);
    return true;
}
