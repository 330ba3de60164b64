/*
 * How jobs look: as JSON objects (--json) and as text for people (a detail block, or a row of
 * the `jobs list` table). Args and results are decoded from MessagePack (mpjson.h).
 */
#ifndef RESEOLIO_CLI_JOBVIEW_H
#define RESEOLIO_CLI_JOBVIEW_H

#include <jansson.h>
#include <stdio.h>

#include <reseolio.h>

/* Every job status, in the order of enum rs_job_status. */
#define JOBVIEW_STATUSES 5

/* Read a status name ("pending"). Returns 0, or -1 when it is none. */
int jobview_status_parse(const char *name, enum rs_job_status *out)
    __attribute__((warn_unused_result));

/* The JSON object of a job (every field of JOB); NULL when memory ran out. Caller owns it. */
json_t *jobview_json(const struct rs_job_info *j);

/* The JSON object of an AWAIT outcome; NULL when memory ran out. Caller owns it. */
json_t *jobview_completion_json(const struct rs_completion *c);

/* Print a job as "field  value" lines. Returns 0, or -1 when memory ran out. */
int jobview_print(FILE *out, const struct rs_job_info *j) __attribute__((warn_unused_result));

/* The header line of the jobs table, and one row of it. */
void jobview_print_header(FILE *out);
void jobview_print_row(FILE *out, const struct rs_job_info *j);

/* Print MessagePack bytes as one line of compact JSON. Returns 0, or -1 when memory ran out. */
int jobview_print_value(FILE *out, const uint8_t *p, size_t len)
    __attribute__((warn_unused_result));

#endif
