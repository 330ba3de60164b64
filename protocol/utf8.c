/*
 * A strict UTF-8 validator. The second byte of a sequence has a lead-dependent range,
 * which is what excludes overlongs (E0, F0), surrogates (ED) and code points past F4 8F.
 */
#include "utf8.h"

/* Bytes in the sequence that lead byte b starts, and the range of its second byte; 0 if b cannot
 * lead. */
static unsigned utf8_lead(uint8_t b, uint8_t *lo, uint8_t *hi)
{
    *lo = 0x80;
    *hi = 0xbf;
    if (b < 0x80)
        return 1;
    if (b < 0xc2)
        return 0; /* continuation byte, or the overlong leads C0 and C1 */
    if (b < 0xe0)
        return 2;
    if (b < 0xf0) {
        if (b == 0xe0)
            *lo = 0xa0; /* below would be an overlong of U+0000..U+07FF */
        else if (b == 0xed)
            *hi = 0x9f; /* above would be a surrogate U+D800..U+DFFF */
        return 3;
    }
    if (b < 0xf5) {
        if (b == 0xf0)
            *lo = 0x90; /* below would be an overlong of the BMP */
        else if (b == 0xf4)
            *hi = 0x8f; /* above would pass U+10FFFF */
        return 4;
    }
    return 0;
}

/* Walk the sequences one by one; any byte out of its range ends the walk. */
bool utf8_valid(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t lo, hi;
        unsigned n = utf8_lead(p[i], &lo, &hi);
        if (n == 0 || n > len - i)
            return false;
        if (n > 1 && (p[i + 1] < lo || p[i + 1] > hi))
            return false;
        for (unsigned k = 2; k < n; k++) {
            if (p[i + k] < 0x80 || p[i + k] > 0xbf)
                return false;
        }
        i += n;
    }
    return true;
}
