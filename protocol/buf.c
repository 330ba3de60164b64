/*
 * rs_buf: the growable, capped byte buffer that encoded frames are appended to.
 * Growth is geometric so that appending many small pieces stays linear.
 */
#include "reseolio/buf.h"

#include <stdlib.h>
#include <string.h>

/* Smallest allocation: one typical small frame fits without a second realloc. */
#define BUF_MIN_CAP 256u

/* The effective limit: 0 stands for "no limit". */
static size_t buf_limit(const struct rs_buf *b)
{
    return b->limit ? b->limit : SIZE_MAX;
}

/* Start empty; nothing is allocated until the first append. */
void rs_buf_init(struct rs_buf *b, size_t limit)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->limit = limit;
}

/* Release the memory; the buffer is empty and usable again afterwards. */
void rs_buf_free(struct rs_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

/* Make room for n more bytes, doubling the capacity but never past the limit. */
int rs_buf_reserve(struct rs_buf *b, size_t n)
{
    size_t limit = buf_limit(b);
    if (n > limit - b->len)
        return -1;
    size_t need = b->len + n;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : BUF_MIN_CAP;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > limit)
        cap = limit;
    uint8_t *p = realloc(b->data, cap);
    if (p == NULL)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

/* Append n bytes from p. */
int rs_buf_append(struct rs_buf *b, const void *p, size_t n)
{
    if (rs_buf_reserve(b, n) != 0)
        return -1;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

/* Drop the first n bytes, keeping the rest at the front. */
void rs_buf_consume(struct rs_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

/* Forget the contents but keep the memory. */
void rs_buf_reset(struct rs_buf *b)
{
    b->len = 0;
}
