/*
 * The frame reader (protocol/frame.c): frames in any chunking, framing errors judged from
 * the header alone, and memory that never passes one header plus one maximum body.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reseolio/frame.h"
#include "reseolio/proto.h"

/* A stream of frames built by the tests. */
struct stream {
    uint8_t *data;
    size_t len;
    size_t nframes;
    uint32_t lens[64];
};

/* Append a frame whose body is len bytes of a pattern that depends on the frame's index. */
static void stream_add(struct stream *s, uint32_t len)
{
    s->data = realloc(s->data, s->len + RS_FRAME_HEADER + len);
    cr_assert_not_null(s->data);
    uint8_t *p = s->data + s->len;
    p[0] = (uint8_t)(len >> 24);
    p[1] = (uint8_t)(len >> 16);
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)len;
    for (uint32_t i = 0; i < len; i++)
        p[RS_FRAME_HEADER + i] = (uint8_t)(i * 31 + s->nframes);
    s->len += RS_FRAME_HEADER + len;
    s->lens[s->nframes++] = len;
}

/* Check that body is frame k of the stream. */
static void stream_expect(const struct stream *s, size_t k, const uint8_t *body, uint32_t len)
{
    cr_assert_lt(k, s->nframes, "more frames than were sent");
    cr_assert_eq(len, s->lens[k], "frame %zu: %u bytes, sent %u", k, len, s->lens[k]);
    for (uint32_t i = 0; i < len; i++)
        cr_assert_eq(body[i], (uint8_t)(i * 31 + k), "frame %zu differs at byte %u", k, i);
}

/* Take every ready frame, checking each; returns how many frames were taken so far. */
static size_t drain(struct rs_reader *r, const struct stream *s, size_t k)
{
    const uint8_t *body;
    uint32_t len;
    int rc;
    while ((rc = rs_reader_next(r, &body, &len)) == 1)
        stream_expect(s, k++, body, len);
    cr_assert_eq(rc, 0, "framing error %d in a good stream", (int)rs_reader_error(r));
    cr_assert_leq(r->cap, RS_FRAME_HEADER + (size_t)r->max_frame, "cap %zu over the bound", r->cap);
    return k;
}

/* A header announcing len bytes. */
static void header(uint8_t h[4], uint32_t len)
{
    h[0] = (uint8_t)(len >> 24);
    h[1] = (uint8_t)(len >> 16);
    h[2] = (uint8_t)(len >> 8);
    h[3] = (uint8_t)len;
}

/* Write n bytes through rs_reader_space/commit, taking frames whenever the reader is full. */
static size_t push(struct rs_reader *r, const struct stream *s, const uint8_t *p, size_t n,
                   size_t k)
{
    while (n > 0) {
        size_t avail = 0;
        uint8_t *dst = rs_reader_space(r, &avail);
        if (dst == NULL) {
            cr_assert_eq(avail, 0);
            size_t before = k;
            k = drain(r, s, k);
            cr_assert_neq(k, before, "reader full but no frame to take");
            continue;
        }
        size_t put = avail < n ? avail : n;
        memcpy(dst, p, put);
        rs_reader_commit(r, put);
        p += put;
        n -= put;
    }
    return k;
}

/* A stream mixing small and large frames, including one at the limit. */
static struct stream mixed_stream(void)
{
    struct stream s = {0};
    uint32_t sizes[] = {1, 5, 4096, 100, 10000, 3, 65536, 7, 200000, 1};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        stream_add(&s, sizes[i]);
    return s;
}

Test(frame, one_byte_at_a_time)
{
    struct stream s = mixed_stream();
    struct rs_reader r;
    rs_reader_init(&r, 200000);
    size_t k = 0;
    for (size_t i = 0; i < s.len; i++) {
        k = push(&r, &s, s.data + i, 1, k);
        k = drain(&r, &s, k);
    }
    cr_expect_eq(k, s.nframes);
    cr_expect_eq(rs_reader_pending(&r), 0);
    rs_reader_free(&r);
    free(s.data);
}

Test(frame, one_byte_at_a_time_with_feed)
{
    struct stream s = mixed_stream();
    struct rs_reader r;
    rs_reader_init(&r, 200000);
    size_t k = 0;
    for (size_t i = 0; i < s.len; i++) {
        cr_assert_eq(rs_reader_feed(&r, s.data + i, 1), RS_OK, "byte %zu refused", i);
        k = drain(&r, &s, k);
    }
    cr_expect_eq(k, s.nframes);
    rs_reader_free(&r);
    free(s.data);
}

Test(frame, many_frames_in_one_feed)
{
    struct stream s = {0};
    for (int i = 0; i < 60; i++)
        stream_add(&s, (uint32_t)(i % 7) + 1);
    struct rs_reader r;
    rs_reader_init(&r, RS_MAX_FRAME_PREHELLO);
    cr_assert_eq(rs_reader_feed(&r, s.data, s.len), RS_OK);
    cr_expect_eq(drain(&r, &s, 0), 60);
    cr_expect_eq(rs_reader_pending(&r), 0);
    rs_reader_free(&r);
    free(s.data);
}

Test(frame, whole_stream_through_space_in_big_reads)
{
    struct stream s = mixed_stream();
    struct rs_reader r;
    rs_reader_init(&r, 200000);
    size_t k = push(&r, &s, s.data, s.len, 0);
    cr_expect_eq(drain(&r, &s, k), s.nframes);
    rs_reader_free(&r);
    free(s.data);
}

Test(frame, oversized_detected_from_header_alone)
{
    struct rs_reader r;
    rs_reader_init(&r, RS_MAX_FRAME_PREHELLO);
    size_t avail;
    uint8_t *p = rs_reader_space(&r, &avail);
    cr_assert_not_null(p);
    cr_assert_geq(avail, 4);
    header(p, RS_MAX_FRAME_PREHELLO + 1);
    rs_reader_commit(&r, 4);

    const uint8_t *body;
    uint32_t len;
    cr_expect_eq(rs_reader_next(&r, &body, &len), -1);
    cr_expect_eq(rs_reader_error(&r), RS_E_FRAME_TOO_LARGE);
    cr_expect_null(rs_reader_space(&r, &avail), "no room offered after a framing error");
    cr_expect_eq(avail, 0);
    cr_expect_leq(r.cap, 4096, "the reader grew for a body it must not read");
    /* sticky: more bytes are dropped, the error stays */
    cr_expect_eq(rs_reader_feed(&r, "abcd", 4), RS_OK);
    cr_expect_eq(rs_reader_pending(&r), 4);
    cr_expect_eq(rs_reader_next(&r, &body, &len), -1);
    cr_expect_eq(rs_reader_error(&r), RS_E_FRAME_TOO_LARGE);
    rs_reader_free(&r);
}

Test(frame, oversized_body_bytes_in_same_feed_are_not_buffered)
{
    uint8_t bytes[4 + 1000];
    memset(bytes, 0x91, sizeof(bytes));
    header(bytes, 0xffffffffu);
    struct rs_reader r;
    rs_reader_init(&r, RS_MAX_FRAME_DEFAULT);
    cr_assert_eq(rs_reader_feed(&r, bytes, sizeof(bytes)), RS_OK);
    cr_expect_eq(rs_reader_pending(&r), 4, "body bytes of an oversized frame were kept");
    const uint8_t *body;
    uint32_t len;
    cr_expect_eq(rs_reader_next(&r, &body, &len), -1);
    cr_expect_eq(rs_reader_error(&r), RS_E_FRAME_TOO_LARGE);
    cr_expect_leq(r.cap, 4096);
    rs_reader_free(&r);
}

Test(frame, zero_length_is_empty_frame_and_final)
{
    struct rs_reader r;
    rs_reader_init(&r, RS_MAX_FRAME_DEFAULT);
    uint8_t bytes[] = {0, 0, 0, 0, 0, 0, 0, 1, 0xc0};
    cr_assert_eq(rs_reader_feed(&r, bytes, sizeof(bytes)), RS_OK);
    const uint8_t *body;
    uint32_t len;
    cr_expect_eq(rs_reader_next(&r, &body, &len), -1);
    cr_expect_eq(rs_reader_error(&r), RS_E_EMPTY_FRAME);
    cr_expect_eq(rs_reader_next(&r, &body, &len), -1, "a framing error must be final");
    rs_reader_free(&r);
}

Test(frame, good_frames_before_a_bad_header_are_returned)
{
    struct stream s = {0};
    stream_add(&s, 3);
    stream_add(&s, 2);
    uint8_t bad[4];
    header(bad, 0);
    struct rs_reader r;
    rs_reader_init(&r, RS_MAX_FRAME_PREHELLO);
    cr_assert_eq(rs_reader_feed(&r, s.data, s.len), RS_OK);
    cr_assert_eq(rs_reader_feed(&r, bad, 4), RS_OK);
    const uint8_t *body;
    uint32_t len;
    cr_expect_eq(rs_reader_next(&r, &body, &len), 1);
    stream_expect(&s, 0, body, len);
    cr_expect_eq(rs_reader_next(&r, &body, &len), 1);
    stream_expect(&s, 1, body, len);
    cr_expect_eq(rs_reader_next(&r, &body, &len), -1);
    cr_expect_eq(rs_reader_error(&r), RS_E_EMPTY_FRAME);
    rs_reader_free(&r);
    free(s.data);
}

Test(frame, truncated_then_nothing)
{
    struct rs_reader r;
    rs_reader_init(&r, RS_MAX_FRAME_PREHELLO);
    const uint8_t *body;
    uint32_t len;
    uint8_t part[] = {0, 0, 0, 10, 1, 2, 3, 4, 5};
    cr_assert_eq(rs_reader_feed(&r, part, 2), RS_OK);
    cr_expect_eq(rs_reader_next(&r, &body, &len), 0, "half a header is not a frame");
    cr_assert_eq(rs_reader_feed(&r, part + 2, sizeof(part) - 2), RS_OK);
    for (int i = 0; i < 3; i++)
        cr_expect_eq(rs_reader_next(&r, &body, &len), 0, "a truncated body is not a frame");
    cr_expect_eq(rs_reader_error(&r), RS_OK);
    cr_expect_eq(rs_reader_pending(&r), sizeof(part));
    rs_reader_free(&r);
}

Test(frame, body_at_exactly_the_limit)
{
    struct stream s = {0};
    stream_add(&s, RS_MAX_FRAME_PREHELLO);
    struct rs_reader r;
    rs_reader_init(&r, RS_MAX_FRAME_PREHELLO);
    size_t k = push(&r, &s, s.data, s.len, 0);
    cr_expect_eq(drain(&r, &s, k), 1);
    cr_expect_eq(r.cap, RS_FRAME_HEADER + RS_MAX_FRAME_PREHELLO);
    rs_reader_free(&r);
    free(s.data);
}

Test(frame, set_max_raises_the_limit_after_the_handshake)
{
    struct stream s = {0};
    stream_add(&s, 50);   /* the HELLO */
    stream_add(&s, 5000); /* only allowed after WELCOME */
    struct rs_reader r;
    rs_reader_init(&r, RS_MAX_FRAME_PREHELLO);
    cr_assert_eq(rs_reader_feed(&r, s.data, 54), RS_OK);
    cr_assert_eq(drain(&r, &s, 0), 1);
    rs_reader_set_max(&r, RS_MAX_FRAME_DEFAULT);
    size_t k = push(&r, &s, s.data + 54, s.len - 54, 1);
    cr_expect_eq(drain(&r, &s, k), 2);
    rs_reader_free(&r);
    free(s.data);
}

Test(frame, set_max_rechecks_a_buffered_header)
{
    uint8_t h[4];
    header(h, 5000);
    struct rs_reader r;
    rs_reader_init(&r, RS_MAX_FRAME_DEFAULT);
    cr_assert_eq(rs_reader_feed(&r, h, 4), RS_OK);
    const uint8_t *body;
    uint32_t len;
    cr_expect_eq(rs_reader_next(&r, &body, &len), 0);
    rs_reader_set_max(&r, RS_MAX_FRAME_PREHELLO);
    cr_expect_eq(rs_reader_next(&r, &body, &len), -1);
    cr_expect_eq(rs_reader_error(&r), RS_E_FRAME_TOO_LARGE);
    rs_reader_free(&r);
}

Test(frame, memory_bounded_by_header_plus_max)
{
    const uint32_t maxes[] = {16, RS_MAX_FRAME_PREHELLO, 100000};
    for (size_t m = 0; m < 3; m++) {
        struct stream s = {0};
        uint32_t max = maxes[m];
        for (int i = 0; i < 20; i++)
            stream_add(&s, i % 3 == 0 ? max : (uint32_t)(i * 7 % max) + 1);
        struct rs_reader r;
        rs_reader_init(&r, max);
        size_t k = 0;
        for (size_t off = 0; off < s.len;) {
            size_t chunk = 1 + (off * 7919) % 9000;
            if (chunk > s.len - off)
                chunk = s.len - off;
            k = push(&r, &s, s.data + off, chunk, k);
            off += chunk;
            cr_assert_leq(r.cap, RS_FRAME_HEADER + (size_t)max, "cap %zu, max %u", r.cap, max);
        }
        cr_expect_eq(drain(&r, &s, k), 20);
        cr_expect_eq(r.cap, RS_FRAME_HEADER + (size_t)max, "a frame at the limit needs it all");
        rs_reader_free(&r);
        free(s.data);
    }
}

Test(frame, small_frames_do_not_grow_the_buffer)
{
    struct stream s = {0};
    for (int i = 0; i < 60; i++)
        stream_add(&s, 1000);
    struct rs_reader r;
    rs_reader_init(&r, RS_MAX_FRAME_DEFAULT);
    size_t k = push(&r, &s, s.data, s.len, 0);
    cr_expect_eq(drain(&r, &s, k), 60);
    cr_expect_eq(r.cap, 4096, "grew to %zu for 1000-byte frames", r.cap);
    rs_reader_free(&r);
    free(s.data);
}

Test(frame, feed_refuses_what_does_not_fit_and_copies_nothing)
{
    struct stream s = {0};
    stream_add(&s, 4090);
    stream_add(&s, 10);
    struct rs_reader r;
    rs_reader_init(&r, RS_MAX_FRAME_PREHELLO);
    cr_assert_eq(rs_reader_feed(&r, s.data, 4094), RS_OK);
    cr_expect_eq(rs_reader_feed(&r, s.data + 4094, 14), RS_E_NOSPACE);
    cr_expect_eq(rs_reader_pending(&r), 4094, "a refused feed copied bytes");
    size_t k = drain(&r, &s, 0);
    cr_assert_eq(rs_reader_feed(&r, s.data + 4094, 14), RS_OK);
    cr_expect_eq(drain(&r, &s, k), 2);
    rs_reader_free(&r);
    free(s.data);
}

Test(frame, space_asks_for_a_drain_when_full)
{
    struct stream s = {0};
    stream_add(&s, RS_MAX_FRAME_PREHELLO);
    struct rs_reader r;
    rs_reader_init(&r, RS_MAX_FRAME_PREHELLO);
    cr_assert_eq(rs_reader_feed(&r, s.data, s.len), RS_OK);
    size_t avail = 99;
    cr_expect_null(rs_reader_space(&r, &avail));
    cr_expect_eq(avail, 0);
    cr_expect_eq(rs_reader_error(&r), RS_OK, "a full reader is not an error");
    cr_expect_eq(drain(&r, &s, 0), 1);
    cr_expect_not_null(rs_reader_space(&r, &avail));
    cr_expect_gt(avail, 0);
    rs_reader_free(&r);
    free(s.data);
}

Test(frame, free_is_safe_twice_and_unused)
{
    struct rs_reader r;
    rs_reader_init(&r, RS_MAX_FRAME_PREHELLO);
    rs_reader_free(&r);
    rs_reader_free(&r);
    cr_expect_eq(rs_reader_pending(&r), 0);
}
