/*
 * UTF-8 validation for protocol strings (docs/protocol.md §2 rule 7): well-formed per
 * Unicode table 3-7, so no overlongs, no surrogates, nothing above U+10FFFF.
 */
#ifndef RESEOLIO_PROTOCOL_UTF8_H
#define RESEOLIO_PROTOCOL_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when p[0..len) is well-formed UTF-8 (NUL bytes are well-formed; check them apart). */
bool utf8_valid(const uint8_t *p, size_t len);

#endif
