/*
 * rs_reader: splits a byte stream into frame bodies. A frame is judged by its 4-byte
 * header alone, and the buffer never grows past one header plus one maximum body.
 */
#include "reseolio/frame.h"

#include <stdlib.h>
#include <string.h>

/* First allocation; grows by doubling only when a frame needs more. */
#define READER_INITIAL_CAP 4096u

/* Most bytes the reader may hold: one header plus one body at the current limit. */
static size_t reader_bound(const struct rs_reader *r)
{
    return RS_FRAME_HEADER + (size_t)r->max_frame;
}

/* The big-endian length at p. */
static uint32_t reader_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The framing error a header of length len means under the current limit, or RS_OK. */
static enum rs_code reader_judge(const struct rs_reader *r, uint32_t len)
{
    if (len == 0)
        return RS_E_EMPTY_FRAME;
    if (len > r->max_frame)
        return RS_E_FRAME_TOO_LARGE;
    return RS_OK;
}

/*
 * Bytes the first buffered frame needs in all (header included), or the header size when
 * the header is incomplete. Sets the sticky error and returns 0 for a bad header.
 */
static size_t reader_need(struct rs_reader *r)
{
    if (r->end - r->start < RS_FRAME_HEADER)
        return RS_FRAME_HEADER;
    uint32_t len = reader_be32(r->buf + r->start);
    enum rs_code rc = reader_judge(r, len);
    if (rc != RS_OK) {
        r->error = rc;
        return 0;
    }
    return RS_FRAME_HEADER + (size_t)len;
}

/* Move the unconsumed bytes to the front of the buffer. */
static void reader_compact(struct rs_reader *r)
{
    if (r->start == 0)
        return;
    memmove(r->buf, r->buf + r->start, r->end - r->start);
    r->end -= r->start;
    r->start = 0;
}

/* Resize the buffer to exactly cap bytes; on failure the error becomes RS_E_INTERNAL. */
static int reader_resize(struct rs_reader *r, size_t cap)
{
    uint8_t *p = realloc(r->buf, cap);
    if (p == NULL) {
        r->error = RS_E_INTERNAL;
        return -1;
    }
    r->buf = p;
    r->cap = cap;
    return 0;
}

/* Grow by doubling until need bytes fit, never past the bound (need must not exceed it). */
static int reader_grow(struct rs_reader *r, size_t need)
{
    size_t bound = reader_bound(r);
    size_t cap = r->cap ? r->cap : READER_INITIAL_CAP;
    while (cap < need && cap < bound)
        cap = cap > bound / 2 ? bound : cap * 2;
    if (cap > bound)
        cap = bound;
    if (cap <= r->cap)
        return 0;
    return reader_resize(r, cap);
}

/* Give memory back when a lowered limit left the buffer larger than the bound. */
static void reader_shrink(struct rs_reader *r)
{
    size_t bound = reader_bound(r);
    if (r->cap <= bound || r->end - r->start > bound)
        return;
    reader_compact(r);
    uint8_t *p = realloc(r->buf, bound);
    if (p != NULL) {
        r->buf = p;
        r->cap = bound;
    }
}

/* Start empty with a body limit; memory is allocated on first use. */
void rs_reader_init(struct rs_reader *r, uint32_t max_frame)
{
    memset(r, 0, sizeof(*r));
    r->max_frame = max_frame;
    r->error = RS_OK;
}

/* Release the buffer. */
void rs_reader_free(struct rs_reader *r)
{
    free(r->buf);
    r->buf = NULL;
    r->cap = 0;
    r->start = 0;
    r->end = 0;
}

/* Change the body limit; frames not yet returned are judged against the new one. */
void rs_reader_set_max(struct rs_reader *r, uint32_t max_frame)
{
    r->max_frame = max_frame;
    reader_shrink(r);
}

/* Room for the next read: compact, then grow only if the first frame needs it. */
uint8_t *rs_reader_space(struct rs_reader *r, size_t *avail)
{
    *avail = 0;
    if (r->error != RS_OK)
        return NULL;
    reader_shrink(r);
    if (r->buf == NULL && reader_grow(r, RS_FRAME_HEADER) != 0)
        return NULL;
    if (r->end == r->cap)
        reader_compact(r);
    size_t need = reader_need(r);
    if (need == 0)
        return NULL;
    if (r->end == r->cap) {
        if (r->end - r->start >= need)
            return NULL; /* a whole frame waits: the caller drains first */
        if (reader_grow(r, need) != 0)
            return NULL;
    }
    *avail = r->cap - r->end;
    return r->buf + r->end;
}

/* Account for n bytes written at the pointer rs_reader_space returned. */
void rs_reader_commit(struct rs_reader *r, size_t n)
{
    size_t room = r->cap - r->end;
    r->end += n < room ? n : room;
}

/*
 * The framing error in the first header of the buffered bytes followed by p[0..n),
 * and how many bytes of p complete that header; RS_OK when it is fine or incomplete.
 */
static enum rs_code reader_first_header(const struct rs_reader *r, const uint8_t *p, size_t n,
                                        size_t *taken)
{
    size_t have = r->end - r->start;
    uint8_t h[RS_FRAME_HEADER];
    *taken = 0;
    if (have >= RS_FRAME_HEADER)
        return reader_judge(r, reader_be32(r->buf + r->start));
    if (have + n < RS_FRAME_HEADER)
        return RS_OK;
    if (have > 0)
        memcpy(h, r->buf + r->start, have);
    memcpy(h + have, p, RS_FRAME_HEADER - have);
    *taken = RS_FRAME_HEADER - have;
    return reader_judge(r, reader_be32(h));
}

/* Copy n bytes in, all or none, stopping at a bad first header. */
enum rs_code rs_reader_feed(struct rs_reader *r, const void *p, size_t n)
{
    if (r->error != RS_OK)
        return r->error == RS_E_INTERNAL ? RS_E_INTERNAL : RS_OK;
    if (n == 0)
        return RS_OK;
    size_t taken = 0;
    enum rs_code bad = reader_first_header(r, p, n, &taken);
    if (bad != RS_OK)
        n = taken; /* keep the header for the record, drop the body */
    size_t have = r->end - r->start;
    size_t bound = reader_bound(r);
    if (bad == RS_OK && (have > bound || n > bound - have))
        return RS_E_NOSPACE;
    reader_shrink(r);
    if (r->cap - r->end < n)
        reader_compact(r);
    if (r->cap - r->end < n && reader_grow(r, have + n) != 0)
        return RS_E_INTERNAL;
    if (n > 0)
        memcpy(r->buf + r->end, p, n);
    r->end += n;
    if (bad != RS_OK)
        r->error = bad;
    return RS_OK;
}

/* The next complete frame, 0 when more bytes are needed, -1 on a framing error. */
int rs_reader_next(struct rs_reader *r, const uint8_t **body, uint32_t *len)
{
    *body = NULL;
    *len = 0;
    if (r->error != RS_OK)
        return -1;
    size_t need = reader_need(r);
    if (need == 0)
        return -1;
    size_t have = r->end - r->start;
    if (have < RS_FRAME_HEADER || have < need)
        return 0;
    *body = r->buf + r->start + RS_FRAME_HEADER;
    *len = (uint32_t)(need - RS_FRAME_HEADER);
    r->start += need;
    if (r->start == r->end) {
        r->start = 0; /* nothing left: the next read starts at the front, no copy */
        r->end = 0;
    }
    return 1;
}

/* The sticky error, RS_OK while the stream is healthy. */
enum rs_code rs_reader_error(const struct rs_reader *r)
{
    return r->error;
}

/* Bytes held that were not returned as frames. */
size_t rs_reader_pending(const struct rs_reader *r)
{
    return r->end - r->start;
}
