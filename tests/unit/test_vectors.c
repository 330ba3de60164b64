/*
 * The conformance vectors (protocol/vectors/, docs/protocol.md §8), written by an independent
 * encoder (scripts/gen-vectors): valid cases decode and re-encode canonically, and mean their
 * "message"; invalid cases fail at the right stage with the right code.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reseolio/frame.h"
#include "reseolio/msg.h"
#include "reseolio/proto.h"

/* Parse one vector file of RS_VECTORS_DIR. */
static json_t *vectors_load(const char *file)
{
    const char *dir = getenv("RS_VECTORS_DIR");
    cr_assert_not_null(dir, "RS_VECTORS_DIR is not set (meson test sets it)");
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    json_error_t e;
    json_t *root = json_load_file(path, 0, &e);
    cr_assert_not_null(root, "%s:%d: %s", path, e.line, e.text);
    cr_assert(json_is_array(root), "%s is not a JSON array", path);
    cr_assert_gt(json_array_size(root), 0);
    return root;
}

/* A string member of a case. */
static const char *vector_str(json_t *c, const char *key)
{
    json_t *v = json_object_get(c, key);
    cr_assert(json_is_string(v), "case has no string \"%s\"", key);
    return json_string_value(v);
}

/* Lowercase hex to bytes, in an exact-size heap buffer. */
static uint8_t *hex_decode(const char *hex, size_t *len)
{
    size_t n = strlen(hex);
    cr_assert_eq(n % 2, 0, "odd hex length");
    uint8_t *p = malloc(n / 2 ? n / 2 : 1);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned byte;
        cr_assert_eq(sscanf(hex + 2 * i, "%2x", &byte), 1, "bad hex at %zu", 2 * i);
        p[i] = (uint8_t)byte;
    }
    *len = n / 2;
    return p;
}

/* The message type named name, or -1. */
static int type_number(const char *name)
{
    for (int t = 0; t < 256; t++) {
        const char *n = rs_msg_type_name(t);
        if (n != NULL && strcmp(n, name) == 0)
            return t;
    }
    return -1;
}

/* Pack a JSON value the mechanical way of §8: objects keep their order, {"$bin"} is bin. */
static void vector_pack(msgpack_packer *pk, json_t *v)
{
    const char *key;
    json_t *x;
    size_t i;
    json_t *bin = json_is_object(v) && json_object_size(v) == 1 ? json_object_get(v, "$bin") : NULL;
    if (bin != NULL) {
        size_t n;
        uint8_t *bytes = hex_decode(json_string_value(bin), &n);
        msgpack_pack_bin(pk, n);
        msgpack_pack_bin_body(pk, bytes, n);
        free(bytes);
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        msgpack_pack_map(pk, json_object_size(v));
        json_object_foreach(v, key, x)
        {
            msgpack_pack_str(pk, strlen(key));
            msgpack_pack_str_body(pk, key, strlen(key));
            vector_pack(pk, x);
        }
        break;
    case JSON_ARRAY:
        msgpack_pack_array(pk, json_array_size(v));
        json_array_foreach(v, i, x) vector_pack(pk, x);
        break;
    case JSON_STRING:
        msgpack_pack_str(pk, json_string_length(v));
        msgpack_pack_str_body(pk, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        msgpack_pack_int64(pk, json_integer_value(v));
        break;
    case JSON_REAL:
        msgpack_pack_double(pk, json_real_value(v));
        break;
    case JSON_TRUE:
        msgpack_pack_true(pk);
        break;
    case JSON_FALSE:
        msgpack_pack_false(pk);
        break;
    case JSON_NULL:
        msgpack_pack_nil(pk);
        break;
    }
}

/* Feed a whole frame to a reader and take its one body, as an exact-size heap copy. */
static uint8_t *vector_body(const char *name, const uint8_t *bytes, size_t n, size_t *len)
{
    struct rs_reader r;
    const uint8_t *body;
    uint32_t blen;
    rs_reader_init(&r, RS_MAX_FRAME_DEFAULT);
    cr_assert_eq(rs_reader_feed(&r, bytes, n), RS_OK, "%s: feed refused", name);
    cr_assert_eq(rs_reader_next(&r, &body, &blen), 1, "%s: no frame (error %s)", name,
                 rs_code_name(rs_reader_error(&r)) ? rs_code_name(rs_reader_error(&r)) : "none");
    uint8_t *copy = malloc(blen ? blen : 1);
    memcpy(copy, body, blen);
    *len = blen;
    cr_assert_eq(rs_reader_next(&r, &body, &blen), 0, "%s: more than one frame", name);
    cr_assert_eq(rs_reader_pending(&r), 0, "%s: bytes after the frame", name);
    rs_reader_free(&r);
    return copy;
}

/* Check that the canonical frame is what "message" means, converted mechanically. */
static void expect_meaning(const char *name, json_t *message, const uint8_t *canon, size_t n)
{
    json_t *type = json_object_get(message, "type");
    json_t *rid = json_object_get(message, "request_id");
    json_t *fields = json_object_get(message, "fields");
    cr_assert(json_is_string(type) && json_is_integer(rid) && json_is_object(fields),
              "%s: message is not {type, request_id, fields}", name);
    int number = type_number(json_string_value(type));
    cr_assert_geq(number, 0, "%s: unknown type %s", name, json_string_value(type));

    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_int64(&pk, number);
    msgpack_pack_int64(&pk, json_integer_value(rid));
    vector_pack(&pk, fields);
    cr_expect(sb.size + RS_FRAME_HEADER == n &&
                  memcmp(sb.data, canon + RS_FRAME_HEADER, sb.size) == 0,
              "%s: \"message\" does not convert to the canonical body", name);
    msgpack_sbuffer_destroy(&sb);
}

/* One valid case: reader, decoder, encoder and meaning. */
static void check_valid(json_t *c)
{
    const char *name = vector_str(c, "name");
    json_t *message = json_object_get(c, "message");
    json_t *canon_hex = json_object_get(c, "canonical_hex");
    size_t n, cn, blen;
    uint8_t *bytes = hex_decode(vector_str(c, "hex"), &n);
    uint8_t *canon =
        hex_decode(canon_hex ? json_string_value(canon_hex) : vector_str(c, "hex"), &cn);
    uint8_t *body = vector_body(name, bytes, n, &blen);

    struct rs_limits lim;
    struct rs_error err;
    struct rs_msg msg;
    rs_limits_default(&lim);
    enum rs_code rc = rs_msg_decode(&msg, body, blen, &lim, &err);
    cr_assert_eq(rc, RS_OK, "%s: decode failed: %s", name, err.message);
    cr_expect_str_eq(rs_msg_type_name((int)msg.type),
                     json_string_value(json_object_get(message, "type")), "%s: type", name);
    cr_expect_eq(msg.request_id, json_integer_value(json_object_get(message, "request_id")),
                 "%s: request id", name);

    struct rs_buf out;
    rs_buf_init(&out, 0);
    rc = rs_msg_encode(&out, &msg);
    cr_assert_eq(rc, RS_OK, "%s: re-encode failed: %s", name, rs_code_name(rc));
    cr_expect(out.len == cn && memcmp(out.data, canon, cn) == 0,
              "%s: re-encoding is not the canonical frame", name);
    expect_meaning(name, message, canon, cn);

    rs_buf_free(&out);
    rs_msg_free(&msg);
    free(body);
    free(canon);
    free(bytes);
}

/* One invalid frame case: the reader reports the code from the header, keeping no body. */
static void check_invalid_frame(json_t *c, const char *name, const char *want)
{
    json_t *max = json_object_get(c, "max_frame");
    size_t n;
    uint8_t *bytes = hex_decode(vector_str(c, "hex"), &n);
    struct rs_reader r;
    const uint8_t *body;
    uint32_t len;
    int k;
    rs_reader_init(&r, max ? (uint32_t)json_integer_value(max) : RS_MAX_FRAME_DEFAULT);
    cr_assert_eq(rs_reader_feed(&r, bytes, n), RS_OK, "%s: feed refused", name);
    while ((k = rs_reader_next(&r, &body, &len)) == 1)
        ;
    cr_expect_eq(k, -1, "%s: no framing error", name);
    const char *got = rs_code_name(rs_reader_error(&r));
    cr_expect(got != NULL && strcmp(got, want) == 0, "%s: %s, expected %s", name,
              got ? got : "none", want);
    cr_expect_eq(rs_reader_pending(&r), RS_FRAME_HEADER, "%s: kept bytes past the bad header",
                 name);
    rs_reader_free(&r);
    free(bytes);
}

/* One invalid body case: a good frame whose body the decoder rejects with the code. */
static void check_invalid_body(json_t *c, const char *name, const char *want)
{
    size_t n, blen;
    uint8_t *bytes = hex_decode(vector_str(c, "hex"), &n);
    uint8_t *body = vector_body(name, bytes, n, &blen);
    struct rs_limits lim;
    struct rs_error err;
    struct rs_msg msg;
    rs_limits_default(&lim);
    enum rs_code rc = rs_msg_decode(&msg, body, blen, &lim, &err);
    const char *got = rs_code_name(rc);
    cr_expect(got != NULL && strcmp(got, want) == 0, "%s: %s (%s), expected %s", name,
              got ? got : "ok", err.message, want);
    if (rc == RS_OK) {
        rs_msg_free(&msg);
    } else {
        cr_expect_eq(err.code, rc, "%s: err.code", name);
        cr_expect_neq(err.message[0], '\0', "%s: no error message", name);
        cr_expect_null(msg.owned, "%s: a failed decode left memory", name);
    }
    free(body);
    free(bytes);
}

Test(vectors, valid_cases_decode_reencode_and_mean_their_message)
{
    json_t *cases = vectors_load("valid.json");
    bool seen[256] = {false};
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        check_valid(c);
        int t =
            type_number(json_string_value(json_object_get(json_object_get(c, "message"), "type")));
        if (t >= 0)
            seen[t] = true;
    }
    for (int t = 0; t < 256; t++)
        cr_expect(!rs_msg_type_name(t) || seen[t], "no valid vector for %s", rs_msg_type_name(t));
    cr_log_info("%zu valid vectors", json_array_size(cases));
    json_decref(cases);
}

Test(vectors, invalid_cases_fail_at_the_right_stage_with_the_right_code)
{
    json_t *cases = vectors_load("invalid.json");
    bool seen[RS_CODE_COUNT] = {false};
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        const char *name = vector_str(c, "name");
        const char *want = vector_str(c, "error");
        const char *stage = vector_str(c, "stage");
        enum rs_code code = rs_code_from_name(want, strlen(want));
        cr_assert(code != RS_E_INTERNAL, "%s: unknown code %s", name, want);
        seen[code] = true;
        if (strcmp(stage, "frame") == 0)
            check_invalid_frame(c, name, want);
        else if (strcmp(stage, "body") == 0)
            check_invalid_body(c, name, want);
        else
            cr_expect_fail("%s: unknown stage %s", name, stage);
    }
    for (int k = RS_E_EMPTY_FRAME; k <= RS_E_BAD_VALUE; k++)
        cr_expect(seen[k], "no invalid vector for %s", rs_code_name((enum rs_code)k));
    cr_log_info("%zu invalid vectors", json_array_size(cases));
    json_decref(cases);
}
