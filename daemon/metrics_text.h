/*
 * The Prometheus text exposition (format 0.0.4) of the daemon's counters and gauges, and the
 * one-line health verdict. docs/operations.md (Metrics) lists every series.
 */
#ifndef RESEOLIOD_METRICS_TEXT_H
#define RESEOLIOD_METRICS_TEXT_H

#include <stdbool.h>
#include <stddef.h>

struct evbuffer;
struct server;

/* Append every series to out: counters from metrics.c, gauges from the server, the engine and
 * the last queue-depth count (engine->gauges). */
void metrics_text_write(struct evbuffer *out, const struct server *s);

/* True when the storage is up; why gets a one-line reason either way. */
bool metrics_health(const struct server *s, char *why, size_t whylen);

#endif
