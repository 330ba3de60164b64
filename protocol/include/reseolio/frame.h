/*
 * The frame reader: bytes in, complete frame bodies out, no I/O (as hiredis's reader).
 * Memory is bounded by the current frame limit: it never holds more than one
 * header plus one maximum body.
 */
#ifndef RESEOLIO_FRAME_H
#define RESEOLIO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "reseolio/proto.h"

/* Owner: whoever embeds it; release with rs_reader_free. */
struct rs_reader {
    uint8_t *buf;
    size_t cap;
    size_t start;       /* first unconsumed byte */
    size_t end;         /* one past the last byte read */
    uint32_t max_frame; /* current body limit */
    enum rs_code error; /* sticky: once a framing error is seen, nothing more is read */
};

void rs_reader_init(struct rs_reader *r, uint32_t max_frame);
void rs_reader_free(struct rs_reader *r);
/* Change the body limit (after the handshake). Bodies already buffered are re-checked. */
void rs_reader_set_max(struct rs_reader *r, uint32_t max_frame);

/*
 * Room to read into: returns a pointer and sets *avail (> 0) to the bytes that may be
 * written there, or returns NULL with *avail = 0 when the reader must first be drained
 * with rs_reader_next, or memory ran out (then rs_reader_error says RS_E_INTERNAL).
 * After writing n bytes there, call rs_reader_commit(r, n).
 */
uint8_t *rs_reader_space(struct rs_reader *r, size_t *avail);
void rs_reader_commit(struct rs_reader *r, size_t n);

/*
 * Copy bytes in (tests, fuzzers), growing up to one header plus one maximum body. Returns
 * RS_OK; RS_E_NOSPACE when they do not fit until frames are taken with rs_reader_next
 * (nothing was copied); RS_E_INTERNAL when memory ran out. Once the first buffered header
 * is a framing error, the rest is dropped and rs_reader_next reports the error.
 */
enum rs_code rs_reader_feed(struct rs_reader *r, const void *p, size_t n)
    __attribute__((warn_unused_result));

/*
 * Next complete frame: returns 1 and sets *body and *len (valid until the next call to any
 * rs_reader function), 0 when more bytes are needed, or -1 on a framing error (length 0
 * or above the limit, detected from the header alone); rs_reader_error tells which.
 * A framing error is final for the stream.
 */
int rs_reader_next(struct rs_reader *r, const uint8_t **body, uint32_t *len)
    __attribute__((warn_unused_result));
enum rs_code rs_reader_error(const struct rs_reader *r);
/* Bytes buffered but not yet returned as frames. */
size_t rs_reader_pending(const struct rs_reader *r);

#endif
