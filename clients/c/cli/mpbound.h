/*
 * A walk over MessagePack bytes that reads only headers, so that msgpack-c (which allocates
 * what a header declares) never sees a value it would allocate gigabytes for.
 */
#ifndef RESEOLIO_CLI_MPBOUND_H
#define RESEOLIO_CLI_MPBOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The deepest nesting of arrays and maps accepted: what msgpack-c's unpacker can hold. */
#define MPBOUND_MAX_DEPTH 32

/*
 * True when p[0..len) is exactly one MessagePack value (extension types included), nested at
 * most MPBOUND_MAX_DEPTH deep, whose every declared length fits in the bytes that remain.
 */
bool mpbound_check(const uint8_t *p, size_t len) __attribute__((warn_unused_result));

#endif
