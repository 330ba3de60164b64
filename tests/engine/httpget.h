/*
 * A tiny HTTP/1.1 client for the metrics tests: one request on a fresh Unix socket
 * connection, read until the server closes. Plain sockets, bounded waits.
 */
#ifndef RESEOLIO_TEST_ENGINE_HTTPGET_H
#define RESEOLIO_TEST_ENGINE_HTTPGET_H

#include <stddef.h>

/* Send raw bytes to the HTTP server at the Unix socket path and read the whole answer
 * (NUL-terminated, malloc'd, into *out). Returns the status code, 0 when the server closed
 * without one, -1 when it could not connect or timed out. */
int httpget_raw(const char *path, const char *request, size_t len, char **out);

/* GET target; *body gets the body (malloc'd). Returns the status code or -1. */
int httpget(const char *path, const char *target, char **body);

/* The value of the series line that starts with exactly series followed by a space (e.g.
 * "reseolio_jobs_enqueued_total{function=\"a\"}"), or -1 when there is none. */
double httpget_metric(const char *text, const char *series);

#endif
