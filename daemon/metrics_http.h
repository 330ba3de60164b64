/*
 * The HTTP endpoint of --metrics-addr (libevent's evhttp): GET /metrics (Prometheus text) and
 * GET /healthz (200 when the storage is up, else 503; one line of reason). Bounded: 5 s per
 * connection without progress, 8 KiB of headers, no body, only GET and HEAD, and at most
 * METRICS_HTTP_MAX_CONNS connections open: at the cap a new connection is accepted and closed
 * at once, until one of the open ones ends.
 */
#ifndef RESEOLIOD_METRICS_HTTP_H
#define RESEOLIOD_METRICS_HTTP_H

#include <stddef.h>

struct server;
struct metrics_http;

#define METRICS_HTTP_TIMEOUT_S   5
#define METRICS_HTTP_MAX_HEADERS 8192
#define METRICS_HTTP_MAX_CONNS   16
/* How often the open connections are checked for ones evhttp has closed (while any is open). */
#define METRICS_HTTP_SWEEP_MS 100

/* Listen on addr (HOST:PORT, or an absolute Unix socket path made with mode 0600) on the
 * server's loop. Returns 0, or -1 with err. */
int metrics_http_open(struct metrics_http **out, struct server *s, const char *addr, char *err,
                      size_t errlen) __attribute__((warn_unused_result));

/* Stop listening and free; requests still waiting for a queue count must have been answered
 * (the engine's gauges answer them when freed). NULL is a no-op. */
void metrics_http_close(struct metrics_http *h);

#endif
