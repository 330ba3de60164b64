/*
 * The invariant both fuzz targets check on every frame body: decode fails cleanly, or the
 * decoded message encodes to a canonical frame that decodes and re-encodes to itself.
 */
#ifndef FUZZ_ROUNDTRIP_H
#define FUZZ_ROUNDTRIP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * A broken invariant is a finding: say which one, then abort so that libFuzzer keeps the
 * input as a crash artifact. Not assert(): it must hold in every build type.
 */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz invariant broken at %s:%d: %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Decode len bytes of body and check the round-trip invariant; aborts on a violation. */
void roundtrip_body(const uint8_t *body, size_t len);

#endif
