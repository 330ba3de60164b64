/*
 * pgbin: PostgreSQL's binary wire format for parameters (scalars and one-dimensional arrays)
 * and for result columns. Binary parameters need no quoting or escaping of any kind, which
 * is why every job statement takes its client-supplied values this way.
 */
#ifndef RESEOLIO_STORE_PGBIN_H
#define RESEOLIO_STORE_PGBIN_H

#include <libpq-fe.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PGBIN_MUST_CHECK __attribute__((warn_unused_result))

/* Type OIDs we send and read (fixed in PostgreSQL's catalog, pg_type.dat). */
#define PGBIN_BOOL         16
#define PGBIN_BYTEA        17
#define PGBIN_INT8         20
#define PGBIN_INT2         21
#define PGBIN_INT4         23
#define PGBIN_TEXT         25
#define PGBIN_FLOAT4       700
#define PGBIN_UUID         2950
#define PGBIN_BOOL_ARRAY   1000
#define PGBIN_BYTEA_ARRAY  1001
#define PGBIN_INT2_ARRAY   1005
#define PGBIN_INT4_ARRAY   1007
#define PGBIN_TEXT_ARRAY   1009
#define PGBIN_INT8_ARRAY   1016
#define PGBIN_FLOAT4_ARRAY 1021

/* A growable byte buffer. Owns data (free with pgbin_buf_free). A failed append marks the
 * buffer failed and every later append is a no-op, so a builder checks once at the end. */
struct pgbin_buf {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
};

void pgbin_buf_free(struct pgbin_buf *b);

/* Start an array of n elements of element type elem_oid (n may be 0). */
void pgbin_array_begin(struct pgbin_buf *b, Oid elem_oid, size_t n);
/* Append one element; the element type must match pgbin_array_begin's. */
void pgbin_array_null(struct pgbin_buf *b);
void pgbin_array_bytes(struct pgbin_buf *b, const void *data, size_t len); /* bytea, text */
void pgbin_array_i64(struct pgbin_buf *b, int64_t v);
void pgbin_array_i32(struct pgbin_buf *b, int32_t v);
void pgbin_array_i16(struct pgbin_buf *b, int16_t v);
void pgbin_array_bool(struct pgbin_buf *b, bool v);
void pgbin_array_f32(struct pgbin_buf *b, float v);

/* Scalars, for parameters: big-endian into out, which must hold 8 bytes. */
void pgbin_put_i64(char *out, int64_t v);
void pgbin_put_i32(char *out, int32_t v);

/*
 * Result columns in binary format. Each returns false (and leaves *out alone) when the value is
 * NULL or does not have the expected size, so a caller can tell a NULL from a zero. Text and
 * bytea point into res (not NUL-terminated for bytea; text is, since libpq adds a NUL).
 */
PGBIN_MUST_CHECK bool pgbin_i64(const PGresult *res, int row, int col, int64_t *out);
PGBIN_MUST_CHECK bool pgbin_i32(const PGresult *res, int row, int col, int32_t *out);
PGBIN_MUST_CHECK bool pgbin_i16(const PGresult *res, int row, int col, int16_t *out);
PGBIN_MUST_CHECK bool pgbin_bool(const PGresult *res, int row, int col, bool *out);
PGBIN_MUST_CHECK bool pgbin_bytes(const PGresult *res, int row, int col, const char **data,
                                  size_t *len);

#endif
