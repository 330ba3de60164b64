/*
 * The client's byte stream: a Unix socket to the daemon, frames out of a bounded buffer and
 * frames in through the protocol's frame reader. Nothing here waits except the connect; the
 * client's one poll loop decides when to read and write.
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

/* What one read from the socket gave. */
enum transport_read {
    TRANSPORT_READ_DATA,  /* bytes were added to the reader */
    TRANSPORT_READ_AGAIN, /* nothing to read now */
    TRANSPORT_READ_EOF,   /* the daemon closed the connection */
    TRANSPORT_READ_ERROR, /* a read error or no memory: err says which */
};

/* The monotonic time timeout_ms from now (negative: TRANSPORT_FOREVER). */
int64_t transport_deadline(int64_t timeout_ms);

/* The timeout for poll(2) until deadline: -1 for none, 0 when it passed, capped at a minute. */
int transport_poll_ms(int64_t deadline);

/* True when deadline is not TRANSPORT_FOREVER and has passed. */
int transport_expired(int64_t deadline);

/*
 * Connect to path, waiting (until deadline) only when the listen backlog is full. On failure
 * err says why and t holds nothing to release but may be closed.
 */
enum rs_client_status transport_connect(struct transport *t, const char *path, int64_t deadline,
                                        char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Write what the socket takes of t->out now. RS_CLIENT_OK (bytes may remain) or E_IO. */
enum rs_client_status transport_write(struct transport *t, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* One read into the frame reader, without waiting. */
enum transport_read transport_read(struct transport *t, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Close the socket and release the buffers. */
void transport_close(struct transport *t);

#endif
