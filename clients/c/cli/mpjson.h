/*
 * MessagePack to JSON, for showing job arguments and results. What JSON cannot say directly
 * becomes an object with one "$tag" key; jsonmp.h reads the same tags back.
 */
#ifndef RESEOLIO_CLI_MPJSON_H
#define RESEOLIO_CLI_MPJSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The tags (docs/operations.md, "Arguments and results as JSON"). */
#define MPJSON_BIN     "$bin"     /* bin: "hex" */
#define MPJSON_STR_HEX "$str_hex" /* str that is not valid UTF-8: its bytes, "hex" */
#define MPJSON_UINT    "$uint"    /* unsigned integer above 2^63-1: "decimal" */
#define MPJSON_FLOAT   "$float"   /* "NaN", "Infinity" or "-Infinity" */
#define MPJSON_EXT     "$ext"     /* extension type: [type, "hex"] */
#define MPJSON_MAP     "$map"     /* map that is no JSON object: [[key, value], ...] */
#define MPJSON_RAW     "$raw"     /* bytes that are not one MessagePack value: "hex" */

/*
 * The JSON of p[0..len), one MessagePack value; bytes that are not exactly one value (or are
 * nested deeper than msgpack-c reads) become {"$raw": "hex"}. NULL only when memory ran out.
 * The caller owns the result (json_decref).
 */
json_t *mpjson_decode(const uint8_t *p, size_t len);

/* Lowercase hex of p[0..len) as a JSON string; NULL when memory ran out. */
json_t *mpjson_hex(const uint8_t *p, size_t len);

#endif
