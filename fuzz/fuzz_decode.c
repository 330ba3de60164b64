/*
 * libFuzzer target for the message decoder: the whole input is one frame body, decoded with
 * the protocol's limits and put through the encode round trip (roundtrip.h).
 */
#include <stddef.h>
#include <stdint.h>

#include "roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One body per input; libFuzzer already hands it over in an exact-size heap buffer. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    roundtrip_body(data, size);
    return 0;
}
