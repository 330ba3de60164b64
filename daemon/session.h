/*
 * What a connection's messages mean: the HELLO/WELCOME handshake, PING, and the routing of
 * every other message type to its handler (or to the ERROR the protocol prescribes).
 */
#ifndef RESEOLIOD_SESSION_H
#define RESEOLIOD_SESSION_H

#include <stdint.h>

struct conn;

/*
 * Decode and act on one frame body of c, queueing the replies. Returns 0, or -1 when c was
 * closed or began CLOSING (then no more of its input may be handled). body is only valid
 * during the call.
 */
int session_handle_frame(struct conn *c, const uint8_t *body, uint32_t len)
    __attribute__((warn_unused_result));

/* The storage became ready (or failed to boot): handle the job request kept on c, if any,
 * and resume reading. */
void session_replay(struct conn *c);

#endif
