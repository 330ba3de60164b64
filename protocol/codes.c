/*
 * Wire names: error codes, message types and the enum fields, in both directions.
 * One table per list, so a name is spelled in exactly one place.
 */
#include "reseolio/msg.h"
#include "reseolio/proto.h"

#include <string.h>

#include "codes.h"

/* Indexed by enum rs_code; [RS_OK] is never a wire name. */
static const char *const code_names[RS_CODE_COUNT] = {
    [RS_OK] = NULL,
    [RS_E_EMPTY_FRAME] = "empty_frame",
    [RS_E_FRAME_TOO_LARGE] = "frame_too_large",
    [RS_E_MALFORMED] = "malformed",
    [RS_E_TOO_DEEP] = "too_deep",
    [RS_E_TOO_MANY] = "too_many_elements",
    [RS_E_BAD_ENVELOPE] = "bad_envelope",
    [RS_E_UNKNOWN_TYPE] = "unknown_type",
    [RS_E_MISSING_FIELD] = "missing_field",
    [RS_E_BAD_TYPE] = "bad_type",
    [RS_E_BAD_VALUE] = "bad_value",
    [RS_E_HANDSHAKE] = "handshake_required",
    [RS_E_VERSION] = "unsupported_version",
    [RS_E_STORAGE_MISMATCH] = "storage_mismatch",
    [RS_E_UNEXPECTED] = "unexpected",
    [RS_E_NOT_FOUND] = "not_found",
    [RS_E_CONFLICT] = "conflict",
    [RS_E_STALE] = "stale_attempt",
    [RS_E_TIMEOUT] = "timeout",
    [RS_E_UNAVAILABLE] = "unavailable",
    [RS_E_LIMIT] = "limit",
    [RS_E_SHUTTING_DOWN] = "shutting_down",
    [RS_E_INTERNAL] = "internal",
    [RS_E_NOSPACE] = "no_space",
};

/* Indexed by enum rs_msg_type; gaps are NULL. */
static const char *const type_names[] = {
    [RS_MSG_HELLO] = "HELLO",
    [RS_MSG_WELCOME] = "WELCOME",
    [RS_MSG_ERROR] = "ERROR",
    [RS_MSG_PING] = "PING",
    [RS_MSG_PONG] = "PONG",
    [RS_MSG_OK] = "OK",
    [RS_MSG_ENQUEUE] = "ENQUEUE",
    [RS_MSG_ENQUEUED] = "ENQUEUED",
    [RS_MSG_REGISTER] = "REGISTER",
    [RS_MSG_DISPATCH] = "DISPATCH",
    [RS_MSG_ACK] = "ACK",
    [RS_MSG_ABANDON] = "ABANDON",
    [RS_MSG_AWAIT] = "AWAIT",
    [RS_MSG_COMPLETED] = "COMPLETED",
    [RS_MSG_GET] = "GET",
    [RS_MSG_JOB] = "JOB",
    [RS_MSG_CANCEL] = "CANCEL",
    [RS_MSG_RETRY] = "RETRY",
    [RS_MSG_LIST] = "LIST",
    [RS_MSG_JOBS] = "JOBS",
    [RS_MSG_STATS] = "STATS",
    [RS_MSG_STATISTICS] = "STATISTICS",
    [RS_MSG_SCHEDULE_PUT] = "SCHEDULE_PUT",
    [RS_MSG_SCHEDULE] = "SCHEDULE",
    [RS_MSG_SCHEDULE_GET] = "SCHEDULE_GET",
    [RS_MSG_SCHEDULE_PAUSE] = "SCHEDULE_PAUSE",
    [RS_MSG_SCHEDULE_RESUME] = "SCHEDULE_RESUME",
    [RS_MSG_SCHEDULE_DELETE] = "SCHEDULE_DELETE",
    [RS_MSG_SCHEDULE_LIST] = "SCHEDULE_LIST",
    [RS_MSG_SCHEDULES] = "SCHEDULES",
};

static const char *const status_names[] = {
    [RS_STATUS_PENDING] = "pending",     [RS_STATUS_RUNNING] = "running",
    [RS_STATUS_SUCCESS] = "success",     [RS_STATUS_DEAD] = "dead",
    [RS_STATUS_CANCELLED] = "cancelled",
};

static const char *const backoff_names[] = {
    [RS_BACKOFF_EXPONENTIAL] = "exponential",
    [RS_BACKOFF_FIXED] = "fixed",
    [RS_BACKOFF_LINEAR] = "linear",
};

static const char *const abandon_names[] = {
    [RS_ABANDON_TIMEOUT] = "timeout",
    [RS_ABANDON_CANCELLED] = "cancelled",
    [RS_ABANDON_SHUTDOWN] = "shutdown",
};

#define COUNT(a) ((unsigned)(sizeof(a) / sizeof((a)[0])))

const struct codes_enum codes_status = {status_names, COUNT(status_names)};
const struct codes_enum codes_backoff = {backoff_names, COUNT(backoff_names)};
const struct codes_enum codes_abandon = {abandon_names, COUNT(abandon_names)};

/* Index of the name s[0..len) in names[0..count), or -1; NULL entries never match. */
static int codes_find(const char *const *names, unsigned count, const char *s, size_t len)
{
    for (unsigned i = 0; i < count; i++) {
        if (names[i] != NULL && strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
            return (int)i;
    }
    return -1;
}

/* The C value of a wire name of e, or -1. */
int codes_parse(const struct codes_enum *e, const char *s, size_t len)
{
    return codes_find(e->names, e->count, s, len);
}

/* The wire name of value v of e, or NULL. */
const char *codes_name(const struct codes_enum *e, int v)
{
    return v >= 0 && (unsigned)v < e->count ? e->names[v] : NULL;
}

/* Wire name of an error code; RS_E_NOSPACE gets one for logs only. */
const char *rs_code_name(enum rs_code code)
{
    return (unsigned)code < RS_CODE_COUNT ? code_names[code] : NULL;
}

/* Code for a wire name; anything unknown (and the never-sent "no_space") is internal. */
enum rs_code rs_code_from_name(const char *name, size_t len)
{
    int i = codes_find(code_names, RS_E_NOSPACE, name, len);
    return i > 0 ? (enum rs_code)i : RS_E_INTERNAL;
}

/* Name of a message type, or NULL. */
const char *rs_msg_type_name(int type)
{
    return type >= 0 && (unsigned)type < COUNT(type_names) ? type_names[type] : NULL;
}

/* Wire name of a job status. */
const char *rs_status_name(enum rs_status s)
{
    return codes_name(&codes_status, (int)s);
}

/* Job status for a wire name, or -1. */
int rs_status_parse(const char *s, size_t len)
{
    return codes_parse(&codes_status, s, len);
}

/* Wire name of a backoff strategy. */
const char *rs_backoff_name(enum rs_backoff b)
{
    return codes_name(&codes_backoff, (int)b);
}

/* Backoff strategy for a wire name, or -1. */
int rs_backoff_parse(const char *s, size_t len)
{
    return codes_parse(&codes_backoff, s, len);
}

/* Wire name of an ABANDON reason. */
const char *rs_abandon_reason_name(enum rs_abandon_reason r)
{
    return codes_name(&codes_abandon, (int)r);
}

/* ABANDON reason for a wire name, or -1. */
int rs_abandon_reason_parse(const char *s, size_t len)
{
    return codes_parse(&codes_abandon, s, len);
}
