/*
 * A growable byte buffer that the encoder appends frames to, with an explicit cap so
 * that nothing built from it can grow without bound.
 */
#ifndef RESEOLIO_BUF_H
#define RESEOLIO_BUF_H

#include <stddef.h>
#include <stdint.h>

/* Owner: whoever embeds it; release with rs_buf_free. */
struct rs_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t limit; /* appends that would pass this many bytes fail; 0 means SIZE_MAX */
};

void rs_buf_init(struct rs_buf *b, size_t limit);
void rs_buf_free(struct rs_buf *b);
/* Make room for n more bytes. Returns 0, or -1 (out of memory or over the limit). */
int rs_buf_reserve(struct rs_buf *b, size_t n) __attribute__((warn_unused_result));
int rs_buf_append(struct rs_buf *b, const void *p, size_t n) __attribute__((warn_unused_result));
/* Drop the first n bytes (what was written out). */
void rs_buf_consume(struct rs_buf *b, size_t n);
void rs_buf_reset(struct rs_buf *b);

#endif
