/*
 * Socket activation: take the listening socket a service manager passed us, by the
 * sd_listen_fds protocol (LISTEN_PID and LISTEN_FDS in the environment, the sockets from fd 3
 * on). Implemented here in a few lines; no libsystemd.
 */
#ifndef RESEOLIOD_SDLISTEN_H
#define RESEOLIOD_SDLISTEN_H

#include <stddef.h>

/* The first passed fd (SD_LISTEN_FDS_START). */
#define SDLISTEN_FD 3

/*
 * When LISTEN_PID is our pid and LISTEN_FDS is 1: check that fd 3 is a listening Unix stream
 * socket, make it non-blocking and close-on-exec, unset LISTEN_PID, LISTEN_FDS and
 * LISTEN_FDNAMES (so children do not inherit them), and return 3. Returns -1 when we were not
 * socket-activated (nothing is changed), -2 with err when the variables are set for us but
 * wrong (several sockets, not a listening Unix stream socket).
 */
int sdlisten_take(char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
