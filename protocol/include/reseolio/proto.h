/*
 * The Reseolio wire protocol: version, message types, error codes and limits.
 * docs/protocol.md is the normative text; this header is its C mirror.
 */
#ifndef RESEOLIO_PROTO_H
#define RESEOLIO_PROTO_H

#include <stddef.h>
#include <stdint.h>

/*
 * Bump RS_PROTOCOL_VERSION if anything here changes meaning: a field's type, a required
 * field, a message number, a code's meaning. Adding an optional field or a new message
 * type does not need a bump (peers ignore unknown fields and answer unknown types with
 * ERROR unknown_type). Keep docs/protocol.md and protocol/vectors/ in step.
 */
#define RS_PROTOCOL_VERSION 1

/* Bytes of the big-endian length that precedes every frame body. */
#define RS_FRAME_HEADER 4

/* Default and bounds of the negotiated maximum frame body. */
#define RS_MAX_FRAME_DEFAULT (1024u * 1024u)
#define RS_MAX_FRAME_MIN     4096u
#define RS_MAX_FRAME_HARD    (64u * 1024u * 1024u)
/* Maximum frame body before the handshake completed (HELLO is small). */
#define RS_MAX_FRAME_PREHELLO 4096u

/* Limits the decoder enforces on every body. */
#define RS_MAX_DEPTH   8           /* nested arrays/maps, the body array counts as 1 */
#define RS_MAX_OBJECTS 65536u      /* MessagePack values in one body, all levels */
#define RS_MAX_NAME    255u        /* function name, bytes */
#define RS_MAX_KEY     255u        /* idempotency key, bytes */
#define RS_MAX_STEP    2147483647u /* a step's position (ENQUEUE step) */
/* Keys the daemon derives for steps: "step:<parent>:<step>"; clients may not use the prefix. */
#define RS_STEP_KEY_PREFIX "step:"
#define RS_MAX_CLIENT      128u   /* client name in HELLO, bytes */
#define RS_MAX_STORAGE     4096u  /* storage identity in HELLO/WELCOME, bytes */
#define RS_MAX_ERROR       65536u /* error message of an ACK / job, bytes */
#define RS_MAX_REGISTER    256u   /* function names in one REGISTER */
#define RS_MAX_LIST        1000u  /* jobs in one JOBS reply (LIST limit) */
/* Schedules: a schedule name leaves room for its runs' idempotency key
 * "schedule:<name>:<due ms>" within RS_MAX_KEY. */
#define RS_MAX_SCHEDULE_NAME 200u
#define RS_MAX_CRON          255u /* cron expression, bytes */
#define RS_MAX_ZONE          127u /* IANA time zone name, bytes */
/* STATISTICS: rows of its lists (the daemon's metrics keep 1000 names plus "_other"). */
#define RS_MAX_STATS_FUNCTIONS 1001u
#define RS_MAX_STATS_QUEUES    1000u
#define RS_MAX_STATS_NODES     1000u
#define RS_MAX_SCHEMA          63u /* PostgreSQL identifier, bytes */

/* Ranges of option values (docs/protocol.md, ENQUEUE). */
#define RS_MAX_ATTEMPTS_LIMIT 1000u
#define RS_MAX_DELAY_LIMIT_MS (30ull * 24 * 3600 * 1000) /* 30 days */
#define RS_MAX_TIMEOUT_MS     (24ull * 3600 * 1000)      /* 1 day */
#define RS_MAX_CONCURRENCY    10000u

/* Message types: the first element of every body. */
enum rs_msg_type {
    RS_MSG_HELLO = 0x01,
    RS_MSG_WELCOME = 0x02,
    RS_MSG_ERROR = 0x03,
    RS_MSG_PING = 0x04,
    RS_MSG_PONG = 0x05,
    RS_MSG_OK = 0x06,
    RS_MSG_ENQUEUE = 0x10,
    RS_MSG_ENQUEUED = 0x11,
    RS_MSG_REGISTER = 0x12,
    RS_MSG_DISPATCH = 0x13,
    RS_MSG_ACK = 0x14,
    RS_MSG_ABANDON = 0x15,
    RS_MSG_AWAIT = 0x16,
    RS_MSG_COMPLETED = 0x17,
    RS_MSG_GET = 0x18,
    RS_MSG_JOB = 0x19,
    RS_MSG_CANCEL = 0x1a,
    RS_MSG_RETRY = 0x1b,
    RS_MSG_LIST = 0x1c,
    RS_MSG_JOBS = 0x1d,
    RS_MSG_STATS = 0x1e,
    RS_MSG_STATISTICS = 0x1f,
    RS_MSG_SCHEDULE_PUT = 0x20,
    RS_MSG_SCHEDULE = 0x21,
    RS_MSG_SCHEDULE_GET = 0x22,
    RS_MSG_SCHEDULE_PAUSE = 0x23,
    RS_MSG_SCHEDULE_RESUME = 0x24,
    RS_MSG_SCHEDULE_DELETE = 0x25,
    RS_MSG_SCHEDULE_LIST = 0x26,
    RS_MSG_SCHEDULES = 0x27,
};

/*
 * Error codes. On the wire an error code is its string (rs_code_name); the enum is the
 * C view. RS_OK is never sent.
 */
enum rs_code {
    RS_OK = 0,
    /* framing: the connection is closed after the ERROR */
    RS_E_EMPTY_FRAME,     /* "empty_frame": length 0 */
    RS_E_FRAME_TOO_LARGE, /* "frame_too_large": length above the current limit */
    /* body: the message is rejected, the connection stays open */
    RS_E_MALFORMED,     /* "malformed": not one well-formed MessagePack value, or trailing bytes */
    RS_E_TOO_DEEP,      /* "too_deep": nesting above RS_MAX_DEPTH */
    RS_E_TOO_MANY,      /* "too_many_elements": a declared count larger than possible or allowed */
    RS_E_BAD_ENVELOPE,  /* "bad_envelope": body is not [uint type, uint request id, map] */
    RS_E_UNKNOWN_TYPE,  /* "unknown_type": message type not known */
    RS_E_MISSING_FIELD, /* "missing_field": a required field is absent */
    RS_E_BAD_TYPE,      /* "bad_type": a known field has the wrong MessagePack type */
    RS_E_BAD_VALUE,     /* "bad_value": out of range, bad enum, invalid UTF-8, NUL, duplicate */
    /* session and semantics */
    RS_E_HANDSHAKE,        /* "handshake_required": a message before HELLO, or HELLO twice */
    RS_E_VERSION,          /* "unsupported_version" */
    RS_E_STORAGE_MISMATCH, /* "storage_mismatch": client and daemon name different databases */
    RS_E_UNEXPECTED,       /* "unexpected": a message the receiver never accepts (e.g. a reply) */
    RS_E_NOT_FOUND,        /* "not_found": no such job */
    RS_E_CONFLICT,         /* "conflict": the job's state does not allow this */
    RS_E_STALE,            /* "stale_attempt": ACK for an attempt that is no longer current */
    RS_E_TIMEOUT,          /* "timeout": AWAIT's timeout passed */
    RS_E_UNAVAILABLE,      /* "unavailable": storage unreachable; retry */
    RS_E_LIMIT,            /* "limit": a resource cap (connections, waiters, queued output) */
    RS_E_SHUTTING_DOWN,    /* "shutting_down" */
    RS_E_INTERNAL,         /* "internal" */
    RS_E_NOSPACE,          /* never sent nor parsed ("no_space" in logs): drain the reader first */
    RS_CODE_COUNT
};

/* Wire name of a code ("malformed"), or NULL for RS_OK and codes out of range. */
const char *rs_code_name(enum rs_code code);
/* Code for a wire name; RS_E_INTERNAL for an unknown name. */
enum rs_code rs_code_from_name(const char *name, size_t len);
/* Name of a message type ("ENQUEUE"), or NULL if unknown. */
const char *rs_msg_type_name(int type);

#endif
