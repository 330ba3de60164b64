/*
 * The bounds walk that runs over a MessagePack body before msgpack-c sees it: msgpack-c
 * allocates from declared counts, so every count is checked against the bytes left first.
 */
#ifndef RESEOLIO_PROTOCOL_MPCHECK_H
#define RESEOLIO_PROTOCOL_MPCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "reseolio/msg.h"
#include "reseolio/proto.h"

/*
 * Check that p[0..len) is exactly one MessagePack value within lim, allocating nothing.
 * Returns RS_OK, RS_E_MALFORMED (truncated, trailing bytes, ext types, 0xc1),
 * RS_E_TOO_DEEP, or RS_E_TOO_MANY (over max_objects, or a declared length above the bytes
 * left). The first problem in byte order wins.
 */
enum rs_code mpcheck_walk(const uint8_t *p, size_t len, const struct rs_limits *lim)
    __attribute__((warn_unused_result));

#endif
