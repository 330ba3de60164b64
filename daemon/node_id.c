/*
 * The daemon's node id: 128 random bits in hex, new for every run, naming this daemon in
 * WELCOME, in logs and (with the engine) in job leases.
 */
#include "node_id.h"

#include <errno.h>
#include <stdint.h>
#include <sys/random.h>

/* Read 16 random bytes (retrying on EINTR) and write them as lowercase hex. */
int node_id_generate(char out[NODE_ID_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t raw[16];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 0x0f];
    }
    out[NODE_ID_SIZE - 1] = '\0';
    return 0;
}
