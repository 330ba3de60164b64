/*
 * The client's byte stream: a Unix socket to the daemon, frames out of a bounded buffer and
 * frames in through the protocol's frame reader, each blocking step bounded by a deadline.
 */
#ifndef RESEOLIO_CLIENT_TRANSPORT_H
#define RESEOLIO_CLIENT_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "reseolio.h"
#include "reseolio/buf.h"
#include "reseolio/frame.h"

/* No deadline: wait as long as it takes. */
#define TRANSPORT_FOREVER INT64_MIN

/* Owner: the client that embeds it; release with transport_close. */
struct transport {
    int fd; /* non-blocking, close-on-exec; -1 when closed */
    struct rs_reader in;
    struct rs_buf out; /* frames queued for the daemon */
};

/* The monotonic time timeout_ms from now (negative: TRANSPORT_FOREVER). */
int64_t transport_deadline(int timeout_ms);

/* Connect to path. On failure err says why and t holds nothing to release but may be closed. */
enum rs_client_status transport_connect(struct transport *t, const char *path, int64_t deadline,
                                        char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Write everything queued in t->out. */
enum rs_client_status transport_flush(struct transport *t, int64_t deadline, char *err,
                                      size_t errlen) __attribute__((warn_unused_result));

/*
 * Next complete frame from the daemon, reading as needed. *body is valid until the next
 * call on t. A framing error or the daemon closing the connection is an error.
 */
enum rs_client_status transport_next(struct transport *t, int64_t deadline, const uint8_t **body,
                                     uint32_t *len, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Close the socket and release the buffers. */
void transport_close(struct transport *t);

#endif
