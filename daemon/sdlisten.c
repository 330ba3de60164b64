/*
 * Socket activation by the sd_listen_fds protocol, without libsystemd.
 */
#include "sdlisten.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The whole string as a decimal number, or -1. */
static long sdlisten_number(const char *s)
{
    if (s == NULL || s[0] < '0' || s[0] > '9')
        return -1;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    return errno != 0 || *end != '\0' ? -1 : v;
}

int sdlisten_take(char *err, size_t errlen)
{
    long pid = sdlisten_number(getenv("LISTEN_PID"));
    if (pid != (long)getpid())
        return -1;
    long n = sdlisten_number(getenv("LISTEN_FDS"));
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (n != 1) {
        snprintf(err, errlen, "socket activation passed %ld sockets; reseoliod takes exactly one",
                 n);
        return -2;
    }
    int fd = SDLISTEN_FD, v = 0;
    socklen_t len = sizeof(v);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) != 0 || v != AF_UNIX) {
        snprintf(err, errlen, "the socket passed on fd %d is not a Unix socket", fd);
        return -2;
    }
    len = sizeof(v);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) != 0 || v != SOCK_STREAM) {
        snprintf(err, errlen, "the socket passed on fd %d is not a stream socket", fd);
        return -2;
    }
    len = sizeof(v);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) != 0 || v == 0) {
        snprintf(err, errlen, "the socket passed on fd %d is not listening", fd);
        return -2;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
        snprintf(err, errlen, "fd %d: %s", fd, strerror(errno));
        return -2;
    }
    return fd;
}
