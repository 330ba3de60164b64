/*
 * JSON to MessagePack, for `jobs enqueue --args`: what `jobs show --json` prints (the "$tag"
 * objects of mpjson.h included) reads back to the same MessagePack.
 */
#ifndef RESEOLIO_CLI_JSONMP_H
#define RESEOLIO_CLI_JSONMP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The MessagePack encoding of one JSON value. Owner: the caller, until jsonmp_free. */
struct jsonmp_out {
    char *data;
    size_t size;
};

/*
 * Encode j (nesting at most MPBOUND_MAX_DEPTH deep, so that every reader can show it).
 * Returns 0, or -1 with a message in err (what and where, e.g. "[2].$bin: odd number of hex
 * digits"); on -1 out holds nothing.
 */
int jsonmp_encode(const json_t *j, struct jsonmp_out *out, char *err, size_t err_size)
    __attribute__((warn_unused_result));

/* Release what jsonmp_encode made. */
void jsonmp_free(struct jsonmp_out *out);

#endif
