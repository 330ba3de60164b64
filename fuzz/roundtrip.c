/*
 * The decode/encode round trip shared by the fuzz targets: every body either fails with a body
 * error code and a printable message, or has one canonical encoding that is a fixed point.
 */
#include "roundtrip.h"

#include <stdbool.h>
#include <string.h>

#include "reseolio/buf.h"
#include "reseolio/msg.h"
#include "reseolio/proto.h"

/* Filler for what the decoder must overwrite, so that a field it forgets shows up. */
#define POISON 0xa5

/*
 * A copy of exactly n bytes on the heap: the frame reader hands out bodies inside a larger
 * buffer, where a read past the end would go unnoticed by ASan.
 */
static uint8_t *roundtrip_copy(const uint8_t *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    FUZZ_CHECK(c != NULL, "out of memory copying %zu bytes", n);
    if (n)
        memcpy(c, p, n);
    return c;
}

/* The codes rs_msg_decode may return for a body it rejects (docs/protocol.md §2, §6). */
static bool roundtrip_is_body_code(enum rs_code rc)
{
    switch (rc) {
    case RS_E_MALFORMED:
    case RS_E_TOO_DEEP:
    case RS_E_TOO_MANY:
    case RS_E_BAD_ENVELOPE:
    case RS_E_UNKNOWN_TYPE:
    case RS_E_MISSING_FIELD:
    case RS_E_BAD_TYPE:
    case RS_E_BAD_VALUE:
        return true;
    default:
        return false;
    }
}

/* Decode body[0..len) into *msg with the protocol's limits; checks the failure contract. */
static enum rs_code roundtrip_decode(struct rs_msg *msg, const uint8_t *body, size_t len)
{
    struct rs_limits lim;
    struct rs_error err;

    rs_limits_default(&lim);
    memset(msg, POISON, sizeof(*msg));
    memset(&err, POISON, sizeof(err));
    enum rs_code rc = rs_msg_decode(msg, body, len, &lim, &err);
    if (rc == RS_OK) {
        FUZZ_CHECK(rs_msg_type_name((int)msg->type) != NULL, "decoded unknown type 0x%x",
                   (unsigned)msg->type);
        return rc;
    }
    FUZZ_CHECK(memchr(err.message, '\0', sizeof(err.message)) != NULL,
               "error message of code %d is not NUL-terminated", (int)rc);
    FUZZ_CHECK(roundtrip_is_body_code(rc), "decode returned code %d (%s), not a body error: %s",
               (int)rc, rs_code_name(rc) ? rs_code_name(rc) : "?", err.message);
    FUZZ_CHECK(err.code == rc, "err.code %d differs from the returned code %d", (int)err.code,
               (int)rc);
    FUZZ_CHECK(err.message[0] != '\0', "empty error message for %s", rs_code_name(rc));
    return rc;
}

/* Encode msg into out (empty); returns the code after checking the buffer contract. */
static enum rs_code roundtrip_encode(struct rs_buf *out, const struct rs_msg *msg)
{
    enum rs_code rc = rs_msg_encode(out, msg);
    if (rc != RS_OK) {
        FUZZ_CHECK(out->len == 0, "failed encode (%d) left %zu bytes in the buffer", (int)rc,
                   out->len);
        return rc;
    }
    FUZZ_CHECK(out->len > RS_FRAME_HEADER, "encoded frame of %zu bytes has no body", out->len);
    uint32_t l = (uint32_t)out->data[0] << 24 | (uint32_t)out->data[1] << 16 |
                 (uint32_t)out->data[2] << 8 | (uint32_t)out->data[3];
    FUZZ_CHECK(l == out->len - RS_FRAME_HEADER, "header says %u, body is %zu bytes", l,
               out->len - RS_FRAME_HEADER);
    FUZZ_CHECK(l <= RS_MAX_FRAME_HARD, "encoded body of %u bytes above the hard frame limit", l);
    return rc;
}

void roundtrip_body(const uint8_t *body, size_t len)
{
    uint8_t *in = roundtrip_copy(body, len);
    struct rs_msg msg;

    if (roundtrip_decode(&msg, in, len) != RS_OK) {
        free(in);
        return;
    }

    /*
     * A message the decoder accepted satisfies every rule the encoder checks (msg.h: the
     * encoder refuses only what the decoder would reject), with one documented exception:
     * BAD_VALUE for a body above RS_MAX_FRAME_HARD. The canonical form is never longer
     * than the input but for one float written as float 64 (at most 8 bytes more), so that
     * can only happen to a body within 8 bytes of the hard limit. Any other refusal is a
     * disagreement between decoder and encoder; the buffer has no cap (so no RS_E_LIMIT),
     * and out of memory cannot happen at these sizes.
     */
    struct rs_buf first;
    rs_buf_init(&first, 0);
    enum rs_code rc = roundtrip_encode(&first, &msg);
    if (rc == RS_E_BAD_VALUE && len + 8 > RS_MAX_FRAME_HARD) {
        rs_msg_free(&msg);
        free(in);
        return;
    }
    FUZZ_CHECK(rc == RS_OK, "decoded %s (request %u) but encoding it failed with %s",
               rs_msg_type_name((int)msg.type), msg.request_id,
               rs_code_name(rc) ? rs_code_name(rc) : "?");

    /* The canonical form must decode to the same envelope and encode to itself. */
    size_t blen = first.len - RS_FRAME_HEADER;
    uint8_t *canon = roundtrip_copy(first.data + RS_FRAME_HEADER, blen);
    struct rs_msg again;
    FUZZ_CHECK(roundtrip_decode(&again, canon, blen) == RS_OK,
               "the encoding of a decoded %s does not decode", rs_msg_type_name((int)msg.type));
    FUZZ_CHECK(again.type == msg.type && again.request_id == msg.request_id,
               "envelope changed: %s/%u became %s/%u", rs_msg_type_name((int)msg.type),
               msg.request_id, rs_msg_type_name((int)again.type), again.request_id);

    struct rs_buf second;
    rs_buf_init(&second, 0);
    rc = roundtrip_encode(&second, &again);
    FUZZ_CHECK(rc == RS_OK, "re-encoding the canonical %s failed with %s",
               rs_msg_type_name((int)msg.type), rs_code_name(rc) ? rs_code_name(rc) : "?");
    FUZZ_CHECK(second.len == first.len && memcmp(second.data, first.data, first.len) == 0,
               "canonical form of %s is not a fixed point (%zu then %zu bytes)",
               rs_msg_type_name((int)msg.type), first.len, second.len);

    rs_buf_free(&second);
    rs_msg_free(&again);
    free(canon);
    rs_buf_free(&first);
    rs_msg_free(&msg);
    rs_msg_free(&msg); /* documented as safe on an already freed message */
    free(in);
}
