/*
 * mpcheck: an iterative walk over one MessagePack value that only reads headers. A stack of
 * per-container counts (bounded by the depth limit) tracks where each container ends.
 */
#include "mpcheck.h"

/* What follows a header: nothing or a fixed payload, a declared payload, or values. */
enum mp_kind { MP_FIXED, MP_BYTES, MP_CONTAINER };

/* One value's header, as the walk needs it. */
struct mp_head {
    enum mp_kind kind;
    uint64_t skip;  /* payload bytes after the header (numbers, str/bin bodies) */
    uint64_t items; /* values inside, for arrays and maps (a map entry is two) */
};

/* Read a big-endian unsigned of n bytes (1, 2, 4 or 8) at p. */
static uint64_t mp_be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Size of the length field for the tags that carry one; 0 for the others. */
static unsigned mp_len_size(uint8_t tag)
{
    switch (tag) {
    case 0xc4: /* bin 8 */
    case 0xd9: /* str 8 */
        return 1;
    case 0xc5: /* bin 16 */
    case 0xda: /* str 16 */
    case 0xdc: /* array 16 */
    case 0xde: /* map 16 */
        return 2;
    case 0xc6: /* bin 32 */
    case 0xdb: /* str 32 */
    case 0xdd: /* array 32 */
    case 0xdf: /* map 32 */
        return 4;
    default:
        return 0;
    }
}

/* Payload size of the fixed-size number tags; -1 for any other tag. */
static int mp_number_size(uint8_t tag)
{
    switch (tag) {
    case 0xcc: /* uint 8 */
    case 0xd0: /* int 8 */
        return 1;
    case 0xcd: /* uint 16 */
    case 0xd1: /* int 16 */
        return 2;
    case 0xca: /* float 32 */
    case 0xce: /* uint 32 */
    case 0xd2: /* int 32 */
        return 4;
    case 0xcb: /* float 64 */
    case 0xcf: /* uint 64 */
    case 0xd3: /* int 64 */
        return 8;
    default:
        return -1;
    }
}

/*
 * Decode the header at *pp (before end) into *h and advance past it. Returns RS_OK,
 * RS_E_MALFORMED for a cut header or a tag this protocol does not allow.
 */
static enum rs_code mp_head_read(const uint8_t **pp, const uint8_t *end, struct mp_head *h)
{
    const uint8_t *p = *pp;
    uint8_t tag = *p++;
    h->kind = MP_FIXED;
    h->skip = 0;
    h->items = 0;

    if (tag <= 0x7f || tag >= 0xe0 || tag == 0xc0 || tag == 0xc2 || tag == 0xc3) {
        *pp = p; /* fixint, nil, bool: the tag is the value */
        return RS_OK;
    }
    if (tag >= 0xa0 && tag <= 0xbf) {
        h->kind = MP_BYTES;
        h->skip = tag & 0x1fu; /* fixstr */
        *pp = p;
        return RS_OK;
    }
    if (tag >= 0x80 && tag <= 0x9f) {
        h->kind = MP_CONTAINER; /* fixmap 0x80-0x8f, fixarray 0x90-0x9f */
        h->items = (uint64_t)(tag & 0x0fu) * (tag < 0x90 ? 2 : 1);
        *pp = p;
        return RS_OK;
    }
    int num = mp_number_size(tag);
    if (num > 0) {
        h->skip = (uint64_t)num;
        *pp = p;
        return RS_OK;
    }
    unsigned lsize = mp_len_size(tag);
    if (lsize == 0)
        return RS_E_MALFORMED; /* 0xc1 and the ext family */
    if ((size_t)(end - p) < lsize)
        return RS_E_MALFORMED;
    uint64_t n = mp_be(p, lsize);
    p += lsize;
    if (tag == 0xdc || tag == 0xdd || tag == 0xde || tag == 0xdf) {
        h->kind = MP_CONTAINER;
        h->items = tag >= 0xde ? n * 2 : n;
    } else {
        h->kind = MP_BYTES;
        h->skip = n;
    }
    *pp = p;
    return RS_OK;
}

/* Walk one value; see mpcheck.h. */
enum rs_code mpcheck_walk(const uint8_t *p, size_t len, const struct rs_limits *lim)
{
    uint64_t left[RS_LIMIT_DEPTH_CAP]; /* values still owed by each open container */
    uint32_t max_depth = lim->max_depth < RS_LIMIT_DEPTH_CAP ? lim->max_depth : RS_LIMIT_DEPTH_CAP;
    if (len == 0)
        return RS_E_MALFORMED; /* (and p may be NULL, where even p + 0 is undefined) */
    const uint8_t *end = p + len;
    uint32_t depth = 0;
    uint64_t values = 0;

    for (;;) {
        struct mp_head h;
        if (p == end)
            return RS_E_MALFORMED; /* a value is owed but the body ended */
        if (++values > lim->max_objects)
            return RS_E_TOO_MANY;
        enum rs_code rc = mp_head_read(&p, end, &h);
        if (rc != RS_OK)
            return rc;
        size_t rest = (size_t)(end - p);
        if (h.kind == MP_CONTAINER) {
            if (depth + 1 > max_depth)
                return RS_E_TOO_DEEP;
            if (h.items > rest)
                return RS_E_TOO_MANY; /* every value takes at least one byte */
            if (h.items > 0) {
                left[depth++] = h.items;
                continue;
            }
        } else if (h.skip > rest) {
            /* a cut number is malformed; a string or binary longer than the body is a bomb */
            return h.kind == MP_BYTES ? RS_E_TOO_MANY : RS_E_MALFORMED;
        } else {
            p += h.skip;
        }
        /* one value finished: close every container it completes */
        while (depth > 0 && --left[depth - 1] == 0)
            depth--;
        if (depth == 0)
            break;
    }
    return p == end ? RS_OK : RS_E_MALFORMED;
}
