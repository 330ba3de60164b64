/*
 * mpbound: one pass over the headers of a MessagePack value, with a stack of the values each
 * open array or map still holds. Job args come from any client: nothing here trusts them.
 */
#include "mpbound.h"

/* What one header says comes after it. */
struct mpbound_head {
    size_t size;    /* bytes of the header itself */
    uint64_t skip;  /* payload bytes after it (numbers, str, bin, ext) */
    uint64_t items; /* values inside (arrays; a map entry counts two) */
    bool container; /* an array or a map */
};

/* Big-endian unsigned of n bytes at p. */
static uint64_t mpbound_be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Headers whose payload size is fixed by the tag. Returns false for other tags. */
static bool mpbound_fixed(uint8_t tag, struct mpbound_head *h)
{
    static const uint8_t sizes[] = {
        [0xca - 0xca] = 4,  [0xcb - 0xca] = 8, /* float 32, 64 */
        [0xcc - 0xca] = 1,  [0xcd - 0xca] = 2, [0xce - 0xca] = 4, [0xcf - 0xca] = 8, /* uint */
        [0xd0 - 0xca] = 1,  [0xd1 - 0xca] = 2, [0xd2 - 0xca] = 4, [0xd3 - 0xca] = 8, /* int */
        [0xd4 - 0xca] = 2,  [0xd5 - 0xca] = 3, [0xd6 - 0xca] = 5, [0xd7 - 0xca] = 9, /* fixext: */
        [0xd8 - 0xca] = 17, /* type byte + 1, 2, 4, 8, 16 data bytes */
    };
    if (tag <= 0x7f || tag >= 0xe0 || tag == 0xc0 || tag == 0xc2 || tag == 0xc3) {
        h->skip = 0; /* fixint, nil, bool */
        return true;
    }
    if (tag >= 0xa0 && tag <= 0xbf) {
        h->skip = tag & 0x1f; /* fixstr */
        return true;
    }
    if (tag >= 0x80 && tag <= 0x9f) {
        h->container = true;
        h->items = tag <= 0x8f ? 2u * (tag & 0x0f) : (tag & 0x0f); /* fixmap, fixarray */
        return true;
    }
    if (tag >= 0xca && tag <= 0xd8) {
        h->skip = sizes[tag - 0xca];
        return true;
    }
    return false;
}

/* What the length field after a tag counts. */
enum mpbound_len { MPBOUND_BYTES, MPBOUND_EXT, MPBOUND_ARRAY, MPBOUND_MAP };

/* The tags followed by a length field: its size in bytes, and what it counts. */
static const struct {
    uint8_t tag, size, counts;
} mpbound_sized[] = {
    {0xc4, 1, MPBOUND_BYTES}, {0xc5, 2, MPBOUND_BYTES}, {0xc6, 4, MPBOUND_BYTES}, /* bin */
    {0xc7, 1, MPBOUND_EXT},   {0xc8, 2, MPBOUND_EXT},   {0xc9, 4, MPBOUND_EXT},   /* ext */
    {0xd9, 1, MPBOUND_BYTES}, {0xda, 2, MPBOUND_BYTES}, {0xdb, 4, MPBOUND_BYTES}, /* str */
    {0xdc, 2, MPBOUND_ARRAY}, {0xdd, 4, MPBOUND_ARRAY},                           /* array */
    {0xde, 2, MPBOUND_MAP},   {0xdf, 4, MPBOUND_MAP},                             /* map */
};

/* Read the header at p[0..left). Returns false when it is cut short or the tag is 0xc1. */
static bool mpbound_head(const uint8_t *p, size_t left, struct mpbound_head *h)
{
    *h = (struct mpbound_head){.size = 1};
    if (mpbound_fixed(p[0], h))
        return true;
    for (size_t i = 0; i < sizeof(mpbound_sized) / sizeof(mpbound_sized[0]); i++) {
        if (mpbound_sized[i].tag != p[0])
            continue;
        unsigned n = mpbound_sized[i].size;
        if (left < 1 + (size_t)n)
            return false;
        uint64_t v = mpbound_be(p + 1, n);
        h->size = 1 + n;
        switch (mpbound_sized[i].counts) {
        case MPBOUND_EXT:
            h->skip = v + 1; /* the type byte, then the data */
            break;
        case MPBOUND_ARRAY:
        case MPBOUND_MAP:
            h->container = true;
            h->items = mpbound_sized[i].counts == MPBOUND_MAP ? 2 * v : v;
            break;
        default:
            h->skip = v;
        }
        return true;
    }
    return false; /* 0xc1, which MessagePack never uses */
}

/* Walk the headers; every value, even an empty one, takes at least one byte. */
bool mpbound_check(const uint8_t *p, size_t len)
{
    uint64_t left[MPBOUND_MAX_DEPTH + 1]; /* values still to read per open level */
    int depth = 0;
    left[0] = 1;
    size_t off = 0;
    while (depth >= 0) {
        if (left[depth] == 0) {
            depth--;
            continue;
        }
        left[depth]--;
        struct mpbound_head h;
        if (off >= len || !mpbound_head(p + off, len - off, &h))
            return false;
        off += h.size;
        if (h.skip > len - off)
            return false;
        off += (size_t)h.skip;
        /* msgpack-c refuses a 33rd open container even when it is empty. */
        if (h.container && depth == MPBOUND_MAX_DEPTH)
            return false;
        if (h.container && h.items > 0) {
            if (h.items > len - off)
                return false;
            left[++depth] = h.items;
        }
    }
    return off == len;
}
