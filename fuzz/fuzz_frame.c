/*
 * libFuzzer target for the frame reader: a byte stream goes in in chunks chosen by the input,
 * and every frame, framing error and buffered byte is checked against a model of §1 of
 * docs/protocol.md; every body then goes through the decode round trip (roundtrip.h).
 *
 * Input: 4 control bytes, then the stream.
 *   byte 0, bit 0: limit 1 MiB (RS_MAX_FRAME_DEFAULT) instead of 4096 (RS_MAX_FRAME_PREHELLO)
 *   byte 0, bit 1: copy in with rs_reader_feed instead of rs_reader_space + rs_reader_commit
 *   byte 0, bit 2: handshake: start at 4096, raise to 1 MiB once the first frame is out
 *   bytes 1-3: chunk sizes, used in turn; 0 means all the rest at once
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "reseolio/frame.h"
#include "reseolio/proto.h"
#include "roundtrip.h"

#define CONTROL_BYTES 4

#define FLAG_DEFAULT_MAX 0x01
#define FLAG_FEED        0x02
#define FLAG_HANDSHAKE   0x04

/* One run: the reader under test and the model of where the stream should be. */
struct frame_run {
    struct rs_reader r;
    const uint8_t *s; /* the stream */
    size_t n;         /* its length */
    size_t fed;       /* bytes handed to the reader so far */
    size_t pos;       /* start of the first frame the reader has not returned yet */
    uint32_t max;     /* the limit the reader should apply now */
    bool handshake;
    size_t frames;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The length in the frame header at p. */
static uint32_t frame_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The reader's memory stays within one header plus one maximum body, whatever arrives. */
static void frame_check_bounds(const struct frame_run *fr)
{
    FUZZ_CHECK(fr->r.max_frame == fr->max, "reader limit %u, expected %u", fr->r.max_frame,
               fr->max);
    FUZZ_CHECK(fr->r.cap <= (size_t)RS_FRAME_HEADER + fr->max,
               "reader holds %zu bytes with a limit of %u", fr->r.cap, fr->max);
    FUZZ_CHECK(fr->r.start <= fr->r.end && fr->r.end <= fr->r.cap,
               "reader indices start %zu end %zu cap %zu", fr->r.start, fr->r.end, fr->r.cap);
}

/*
 * Take every frame the reader has ready, checking each against the model. Returns -1 once
 * the reader reported a framing error (checked to be the right one), else 0.
 */
static int frame_drain(struct frame_run *fr)
{
    for (;;) {
        const uint8_t *body = NULL;
        uint32_t len = 0;
        int k = rs_reader_next(&fr->r, &body, &len);
        frame_check_bounds(fr);

        size_t have = fr->fed - fr->pos;
        uint32_t l = have >= RS_FRAME_HEADER ? frame_be32(fr->s + fr->pos) : 0;
        bool bad = have >= RS_FRAME_HEADER && (l == 0 || l > fr->max);

        if (k == 1) {
            FUZZ_CHECK(have >= RS_FRAME_HEADER && !bad && have - RS_FRAME_HEADER >= l,
                       "frame %zu returned but the model has %zu bytes, length %u, limit %u",
                       fr->frames, have, l, fr->max);
            FUZZ_CHECK(len == l, "frame %zu: length %u, header says %u", fr->frames, len, l);
            FUZZ_CHECK(body != NULL && memcmp(body, fr->s + fr->pos + RS_FRAME_HEADER, l) == 0,
                       "frame %zu: body differs from the stream", fr->frames);
            fr->pos += RS_FRAME_HEADER + (size_t)l;
            fr->frames++;
            roundtrip_body(body, len);
            if (fr->handshake && fr->frames == 1) {
                rs_reader_set_max(&fr->r, RS_MAX_FRAME_DEFAULT);
                fr->max = RS_MAX_FRAME_DEFAULT;
                frame_check_bounds(fr);
            }
            continue;
        }
        if (k == 0) {
            FUZZ_CHECK(rs_reader_error(&fr->r) == RS_OK, "no frame, yet error %d",
                       (int)rs_reader_error(&fr->r));
            FUZZ_CHECK(!bad, "header with length %u (limit %u) buffered, no error reported", l,
                       fr->max);
            FUZZ_CHECK(have < RS_FRAME_HEADER || have - RS_FRAME_HEADER < l,
                       "frame of %u bytes complete in %zu buffered bytes but not returned", l,
                       have);
            FUZZ_CHECK(rs_reader_pending(&fr->r) == have, "pending %zu, model %zu",
                       rs_reader_pending(&fr->r), have);
            return 0;
        }
        FUZZ_CHECK(k == -1, "rs_reader_next returned %d", k);
        FUZZ_CHECK(bad, "framing error %d reported for a header of length %u (%zu bytes in)",
                   (int)rs_reader_error(&fr->r), l, have);
        enum rs_code want = l == 0 ? RS_E_EMPTY_FRAME : RS_E_FRAME_TOO_LARGE;
        FUZZ_CHECK(rs_reader_error(&fr->r) == want, "framing error %d, expected %d",
                   (int)rs_reader_error(&fr->r), (int)want);
        /* Final: the stream stays broken. */
        FUZZ_CHECK(rs_reader_next(&fr->r, &body, &len) == -1, "framing error was not sticky");
        FUZZ_CHECK(rs_reader_error(&fr->r) == want, "framing error changed");
        frame_check_bounds(fr);
        return -1;
    }
}

/*
 * rs_reader_feed of the whole chunk: all or nothing, refused only when the bytes cannot fit
 * beside what is buffered even at the current limit. Returns the bytes it took.
 */
static size_t frame_feed_all(struct frame_run *fr, size_t want)
{
    size_t before = rs_reader_pending(&fr->r);
    enum rs_code rc = rs_reader_feed(&fr->r, fr->s + fr->fed, want);
    frame_check_bounds(fr);
    if (rc == RS_OK)
        return want;
    FUZZ_CHECK(rc == RS_E_NOSPACE, "feed of %zu bytes failed with %d", want, (int)rc);
    FUZZ_CHECK(rs_reader_pending(&fr->r) == before, "refused feed changed pending %zu to %zu",
               before, rs_reader_pending(&fr->r));
    FUZZ_CHECK(before + want > (size_t)RS_FRAME_HEADER + fr->max,
               "feed of %zu bytes refused with %zu pending, limit %u", want, before, fr->max);
    return 0;
}

/*
 * Hand want bytes to the reader, as much at a time as it has room for, draining whenever it
 * is full. Returns -1 once a framing error ended the stream.
 */
static int frame_push(struct frame_run *fr, size_t want, bool feed)
{
    if (feed) {
        size_t took = frame_feed_all(fr, want);
        fr->fed += took;
        want -= took;
    }
    while (want > 0) {
        size_t avail = 0;
        uint8_t *p = rs_reader_space(&fr->r, &avail);
        frame_check_bounds(fr);
        if (p == NULL) {
            FUZZ_CHECK(avail == 0, "no space but avail %zu", avail);
            FUZZ_CHECK(rs_reader_error(&fr->r) != RS_E_INTERNAL, "reader out of memory");
            size_t before = fr->pos;
            if (frame_drain(fr) < 0)
                return -1;
            FUZZ_CHECK(fr->pos != before, "reader full (%zu pending) yet has no frame to return",
                       rs_reader_pending(&fr->r));
            continue;
        }
        FUZZ_CHECK(avail > 0, "space returned with avail 0");
        size_t put = avail < want ? avail : want;
        if (feed) {
            enum rs_code rc = rs_reader_feed(&fr->r, fr->s + fr->fed, put);
            FUZZ_CHECK(rc == RS_OK, "feed of %zu bytes refused (%d) with %zu available", put,
                       (int)rc, avail);
        } else {
            memcpy(p, fr->s + fr->fed, put);
            rs_reader_commit(&fr->r, put);
        }
        fr->fed += put;
        want -= put;
        frame_check_bounds(fr);
    }
    return frame_drain(fr);
}

/* Run the stream through a reader configured by the control bytes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < CONTROL_BYTES)
        return 0;

    uint8_t flags = data[0];
    const uint8_t *chunks = data + 1;
    struct frame_run fr = {
        .s = data + CONTROL_BYTES,
        .n = size - CONTROL_BYTES,
        .handshake = (flags & FLAG_HANDSHAKE) != 0,
    };
    fr.max =
        (flags & FLAG_DEFAULT_MAX) && !fr.handshake ? RS_MAX_FRAME_DEFAULT : RS_MAX_FRAME_PREHELLO;
    rs_reader_init(&fr.r, fr.max);
    frame_check_bounds(&fr);

    int broken = 0;
    for (unsigned i = 0; fr.fed < fr.n && !broken; i++) {
        size_t want = chunks[i % (CONTROL_BYTES - 1)];
        if (want == 0 || want > fr.n - fr.fed)
            want = fr.n - fr.fed;
        broken = frame_push(&fr, want, (flags & FLAG_FEED) != 0);
    }
    if (!broken)
        FUZZ_CHECK(rs_reader_pending(&fr.r) == fr.n - fr.pos, "%zu pending at the end, model %zu",
                   rs_reader_pending(&fr.r), fr.n - fr.pos);

    rs_reader_free(&fr.r);
    return 0;
}
