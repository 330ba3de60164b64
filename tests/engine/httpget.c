/*
 * A tiny HTTP/1.1 client for the metrics tests.
 */
#include "httpget.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define HTTPGET_TIMEOUT_MS 10000

int httpget_raw(const char *path, const char *request, size_t len, char **out)
{
    *out = NULL;
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    for (size_t off = 0; off < len;) {
        ssize_t n = send(fd, request + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server may close early on a bad request: read what it said */
        off += (size_t)n;
    }
    size_t cap = 4096, used = 0;
    char *buf = malloc(cap);
    int rc = -1;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, HTTPGET_TIMEOUT_MS) <= 0)
            goto out;
        if (used + 1 >= cap)
            buf = realloc(buf, cap *= 2);
        ssize_t n = recv(fd, buf + used, cap - used - 1, 0);
        if (n < 0)
            break; /* reset by the server: keep what came */
        if (n == 0)
            break;
        used += (size_t)n;
    }
    buf[used] = '\0';
    rc = 0;
    int code;
    if (sscanf(buf, "HTTP/1.%*d %d", &code) == 1)
        rc = code;
out:
    close(fd);
    if (rc < 0)
        free(buf);
    else
        *out = buf;
    return rc;
}

int httpget(const char *path, const char *target, char **body)
{
    char req[512];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
                     target);
    char *all = NULL;
    int code = httpget_raw(path, req, (size_t)n, &all);
    *body = NULL;
    if (code < 0)
        return code;
    const char *sep = strstr(all, "\r\n\r\n");
    *body = strdup(sep != NULL ? sep + 4 : "");
    free(all);
    return code;
}

double httpget_metric(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *line = text; line != NULL && *line != '\0';) {
        if (strncmp(line, series, n) == 0 && line[n] == ' ')
            return strtod(line + n + 1, NULL);
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    return -1;
}
