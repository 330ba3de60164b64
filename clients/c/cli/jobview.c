/*
 * How jobs look. JSON keeps times as Unix ms (numbers scripts can compare); text shows them
 * as UTC. Absent optional fields are null in JSON and left out in text.
 */
#include "jobview.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mpjson.h"

/* The wire names are the library's (rs_job_status_name). */
int jobview_status_parse(const char *name, enum rs_job_status *out)
{
    for (int s = 0; s < JOBVIEW_STATUSES; s++)
        if (strcmp(name, rs_job_status_name((enum rs_job_status)s)) == 0) {
            *out = (enum rs_job_status)s;
            return 0;
        }
    return -1;
}

/* A time that may be absent (0) as JSON. */
static json_t *jobview_time(int64_t ms)
{
    return ms != 0 ? json_integer((json_int_t)ms) : json_null();
}

/* Decoded bytes, null when absent; *nomem when decoding ran out of memory. */
static json_t *jobview_bytes(const uint8_t *p, size_t len, bool present, bool *nomem)
{
    if (!present)
        return json_null();
    json_t *v = mpjson_decode(p, len);
    if (v == NULL)
        *nomem = true;
    return v;
}

/* Every field of JOB, in the order of docs/protocol.md. */
json_t *jobview_json(const struct rs_job_info *j)
{
    bool nomem = false;
    /* Empty args mean "no arguments" on the wire: show them as null, not as bad bytes. */
    json_t *args = jobview_bytes(j->args, j->args_len, j->args_len > 0, &nomem);
    json_t *result = jobview_bytes(j->result, j->result_len, j->result != NULL, &nomem);
    if (nomem) {
        json_decref(args);
        json_decref(result);
        return NULL;
    }
    json_t *v = json_pack(
        "{s:I, s:s, s:s, s:I, s:I, s:o, s:o, s:s?, s:s?, s:i, s:I, s:I, s:o, s:o}", "id",
        (json_int_t)j->id, "name", j->name, "status", rs_job_status_name(j->status), "attempt",
        (json_int_t)j->attempt, "max_attempts", (json_int_t)j->max_attempts, "args", args, "result",
        result, "error", j->error, "key", j->key, "priority", j->priority, "created_at",
        (json_int_t)j->created_at, "run_at", (json_int_t)j->run_at, "started_at",
        jobview_time(j->started_at), "finished_at", jobview_time(j->finished_at));
    /* A step names its parent and position; other jobs have null there. */
    if (v != NULL &&
        (json_object_set_new(v, "parent",
                             j->parent != 0 ? json_integer((json_int_t)j->parent) : json_null()) !=
             0 ||
         json_object_set_new(
             v, "step", j->parent != 0 ? json_integer((json_int_t)j->step) : json_null()) != 0)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* What AWAIT said. */
json_t *jobview_completion_json(const struct rs_completion *c)
{
    bool nomem = false;
    json_t *result = jobview_bytes(c->result, c->result_len, c->result != NULL, &nomem);
    if (nomem)
        return NULL;
    return json_pack("{s:I, s:s, s:I, s:o, s:s?}", "job", (json_int_t)c->job, "status",
                     rs_job_status_name(c->status), "attempt", (json_int_t)c->attempt, "result",
                     result, "error", c->error);
}

/* Compact one-line JSON of MessagePack bytes. */
int jobview_print_value(FILE *out, const uint8_t *p, size_t len)
{
    json_t *v = mpjson_decode(p, len);
    if (v == NULL)
        return -1;
    int rc = json_dumpf(v, out, JSON_ENCODE_ANY | cli_json_precision(v));
    json_decref(v);
    fputc('\n', out);
    return rc;
}

/* One "field  value" line with a time. */
static void jobview_print_time(FILE *out, const char *field, int64_t ms)
{
    char when[48];
    cli_format_time(ms, when, sizeof(when));
    fprintf(out, "%-10s %s\n", field, when);
}

/* The detail block of `jobs show`, `jobs cancel`, `jobs retry`. */
int jobview_print(FILE *out, const struct rs_job_info *j)
{
    fprintf(out, "%-10s %" PRIu64 "\n", "id", j->id);
    fprintf(out, "%-10s %s\n", "function", j->name);
    fprintf(out, "%-10s %s\n", "status", rs_job_status_name(j->status));
    fprintf(out, "%-10s %" PRIu64 " of %" PRIu64 "\n", "attempts", j->attempt, j->max_attempts);
    fprintf(out, "%-10s %d\n", "priority", j->priority);
    if (j->key != NULL)
        fprintf(out, "%-10s %s\n", "key", j->key);
    if (j->parent != 0)
        fprintf(out, "%-10s step %" PRIu64 " of job %" PRIu64 "\n", "parent", j->step, j->parent);
    jobview_print_time(out, "created", j->created_at);
    jobview_print_time(out, "due", j->run_at);
    if (j->started_at != 0)
        jobview_print_time(out, "started", j->started_at);
    if (j->finished_at != 0)
        jobview_print_time(out, "finished", j->finished_at);
    fprintf(out, "%-10s ", "args");
    if (j->args_len == 0)
        fprintf(out, "(none)\n");
    else if (jobview_print_value(out, j->args, j->args_len) != 0)
        return -1;
    if (j->result != NULL) {
        fprintf(out, "%-10s ", "result");
        if (jobview_print_value(out, j->result, j->result_len) != 0)
            return -1;
    }
    if (j->error != NULL)
        fprintf(out, "%-10s %s\n", "error", j->error);
    return 0;
}

/* Columns of `jobs list`; the function name last, since it has no fixed width. */
void jobview_print_header(FILE *out)
{
    fprintf(out, "%-10s %-10s %-9s %-24s %s\n", "ID", "STATUS", "ATTEMPTS", "CREATED", "FUNCTION");
}

/* One job as a row. */
void jobview_print_row(FILE *out, const struct rs_job_info *j)
{
    char when[48], attempts[48];
    cli_format_time(j->created_at, when, sizeof(when));
    snprintf(attempts, sizeof(attempts), "%" PRIu64 "/%" PRIu64, j->attempt, j->max_attempts);
    fprintf(out, "%-10" PRIu64 " %-10s %-9s %-24s %s\n", j->id, rs_job_status_name(j->status),
            attempts, when, j->name);
}
