/*
 * Typed protocol messages: decode a frame body into a struct, encode a struct into a frame.
 * No I/O. Decoded strings and byte strings point into the body that was decoded.
 */
#ifndef RESEOLIO_MSG_H
#define RESEOLIO_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reseolio/buf.h"
#include "reseolio/proto.h"

#define RS_WARN_UNUSED __attribute__((warn_unused_result))

/* A string or byte string on the wire. Not NUL-terminated. ptr == NULL means "absent". */
struct rs_str {
    const char *ptr;
    uint32_t len;
};
struct rs_bytes {
    const uint8_t *ptr;
    uint32_t len;
};

/*
 * Decoder limits; rs_limits_default() gives the protocol's defaults. msgpack-c cannot nest
 * deeper than 32 levels, so a max_depth above RS_LIMIT_DEPTH_CAP counts as that cap.
 */
#define RS_LIMIT_DEPTH_CAP 32u
struct rs_limits {
    uint32_t max_depth;
    uint32_t max_objects;
};

/* What went wrong in a decode, for the ERROR reply and the log. */
struct rs_error {
    enum rs_code code;
    char message[160]; /* NUL-terminated, names the field when there is one */
};

/*
 * Presence of optional fields. A struct's `has` holds RS_HAS_* bits for its optional
 * scalar fields; optional strings and byte strings are present when ptr != NULL.
 * The encoder emits exactly the present fields, in the order of docs/protocol.md.
 * After a decode, an absent optional scalar holds its protocol default (ENQUEUE
 * max_attempts 3, ACK retryable true, LIST limit 100, ...) with its bit still clear.
 */
enum {
    RS_HAS_PID = 1u << 0,
    RS_HAS_MAX_ATTEMPTS = 1u << 1,
    RS_HAS_INITIAL_DELAY = 1u << 2,
    RS_HAS_MAX_DELAY = 1u << 3,
    RS_HAS_JITTER = 1u << 4,
    RS_HAS_TIMEOUT = 1u << 5,
    RS_HAS_PRIORITY = 1u << 6,
    RS_HAS_RUN_AT = 1u << 7,
    RS_HAS_DELAY = 1u << 8,
    RS_HAS_RETRYABLE = 1u << 9,
    RS_HAS_STARTED_AT = 1u << 10,
    RS_HAS_FINISHED_AT = 1u << 11,
    RS_HAS_LIMIT = 1u << 12,
    RS_HAS_AFTER = 1u << 13,
    RS_HAS_NEXT = 1u << 14,
    RS_HAS_AWAIT_TIMEOUT = 1u << 15,
    RS_HAS_RELEASE = 1u << 23, /* ACK release */
    /* durable steps (ENQUEUE, JOB, LIST, AWAIT) */
    RS_HAS_PARENT = 1u << 16,
    RS_HAS_STEP = 1u << 17,
    RS_HAS_WAITER = 1u << 18,
    RS_HAS_WAITER_ATTEMPT = 1u << 19,
    /* schedules (high bits: the low ones stay free for job messages) */
    RS_HAS_PAUSED = 1u << 24,
    RS_HAS_NEXT_RUN_AT = 1u << 25,
    RS_HAS_LAST_RUN_AT = 1u << 26,
    RS_HAS_SCHEDULE_LIMIT = 1u << 27,
    /* STATISTICS */
    RS_HAS_COUNTED_AT = 1u << 20,
    RS_HAS_TRUNCATED = 1u << 21,
};

enum rs_backoff {
    RS_BACKOFF_EXPONENTIAL = 0, /* default */
    RS_BACKOFF_FIXED,
    RS_BACKOFF_LINEAR,
};

enum rs_status {
    RS_STATUS_PENDING = 0,
    RS_STATUS_RUNNING,
    RS_STATUS_SUCCESS,
    RS_STATUS_DEAD,
    RS_STATUS_CANCELLED,
};

enum rs_abandon_reason {
    RS_ABANDON_TIMEOUT = 0,
    RS_ABANDON_CANCELLED,
    RS_ABANDON_SHUTDOWN,
};

struct rs_hello {
    uint32_t has;
    uint64_t version;      /* required */
    struct rs_str client;  /* required, 1..RS_MAX_CLIENT */
    uint64_t pid;          /* RS_HAS_PID */
    struct rs_str storage; /* optional, ..RS_MAX_STORAGE */
};

struct rs_welcome {
    uint64_t version; /* all required */
    struct rs_str node;
    struct rs_str server;
    uint64_t max_frame;
    struct rs_str storage;
};

struct rs_error_msg {
    uint32_t has;
    struct rs_str code;    /* required; rs_code_from_name() maps it */
    struct rs_str message; /* required */
    bool retryable;        /* RS_HAS_RETRYABLE, default false */
};

struct rs_enqueue {
    uint32_t has;
    struct rs_str name;    /* required */
    struct rs_bytes args;  /* optional */
    struct rs_str key;     /* optional idempotency key */
    uint64_t max_attempts; /* RS_HAS_MAX_ATTEMPTS */
    bool has_backoff;
    enum rs_backoff backoff;
    uint64_t initial_delay_ms; /* RS_HAS_INITIAL_DELAY */
    uint64_t max_delay_ms;     /* RS_HAS_MAX_DELAY */
    double jitter;             /* RS_HAS_JITTER */
    uint64_t timeout_ms;       /* RS_HAS_TIMEOUT */
    int64_t priority;          /* RS_HAS_PRIORITY */
    int64_t run_at;            /* RS_HAS_RUN_AT, unix ms */
    uint64_t delay_ms;         /* RS_HAS_DELAY */
    uint64_t parent;           /* RS_HAS_PARENT: the job whose step this is */
    uint64_t step;             /* RS_HAS_STEP: its position among the parent's calls */
};

struct rs_enqueued {
    uint64_t job;
    bool deduplicated;
};

struct rs_register {
    struct rs_str *names; /* owned by the message (rs_msg_free) */
    uint32_t nnames;
    uint64_t concurrency;
};

struct rs_dispatch {
    uint64_t job;
    struct rs_str name;
    struct rs_bytes args;
    uint64_t attempt;
    uint64_t max_attempts;
    int64_t deadline; /* unix ms */
};

struct rs_ack {
    uint32_t has;
    uint64_t job;
    uint64_t attempt;
    bool ok;
    struct rs_bytes result; /* with ok */
    struct rs_str error;    /* without ok */
    bool retryable;         /* RS_HAS_RETRYABLE, default true */
    /* RS_HAS_RELEASE: true hands the attempt back unfinished and uncounted; then ok is false
     * and result, error and retryable are absent (else bad_value). */
    bool release;
};

struct rs_abandon {
    uint64_t job;
    uint64_t attempt;
    enum rs_abandon_reason reason;
};

struct rs_job_ref {
    uint32_t has;
    uint64_t job;
    uint64_t timeout_ms;     /* AWAIT only: RS_HAS_AWAIT_TIMEOUT */
    uint64_t waiter;         /* AWAIT only, RS_HAS_WAITER: the running job that waits */
    uint64_t waiter_attempt; /* AWAIT only, RS_HAS_WAITER_ATTEMPT: its attempt */
};

struct rs_completed {
    uint64_t job;
    enum rs_status status; /* success, dead or cancelled */
    uint64_t attempt;
    struct rs_bytes result; /* optional */
    struct rs_str error;    /* optional */
};

struct rs_job {
    uint32_t has;
    uint64_t id;
    struct rs_str name;
    enum rs_status status;
    uint64_t attempt;
    uint64_t max_attempts;
    struct rs_bytes args;
    struct rs_bytes result; /* optional */
    struct rs_str error;    /* optional */
    struct rs_str key;      /* optional */
    int64_t priority;
    int64_t created_at;
    int64_t run_at;
    int64_t started_at;  /* RS_HAS_STARTED_AT */
    int64_t finished_at; /* RS_HAS_FINISHED_AT */
    uint64_t parent;     /* RS_HAS_PARENT: the job this is a step of */
    uint64_t step;       /* RS_HAS_STEP */
};

struct rs_list {
    uint32_t has;
    bool has_status;
    enum rs_status status;
    struct rs_str name; /* optional */
    uint64_t limit;     /* RS_HAS_LIMIT */
    uint64_t after;     /* RS_HAS_AFTER */
    uint64_t parent;    /* RS_HAS_PARENT: only the steps of this job */
};

struct rs_jobs {
    uint32_t has;
    struct rs_job *jobs; /* owned by the message (rs_msg_free) */
    uint32_t njobs;
    uint64_t next; /* RS_HAS_NEXT */
};

/*
 * SCHEDULE_PUT and SCHEDULE. In SCHEDULE_PUT the job options are optional (RS_HAS_* bits as in
 * ENQUEUE; zone defaults to "UTC"; paused absent keeps a schedule's state, new ones are
 * active); in SCHEDULE every field but next_run_at and last_run_at is present.
 */
struct rs_schedule {
    uint32_t has;
    struct rs_str name;     /* the schedule's name, 1..RS_MAX_SCHEDULE_NAME */
    struct rs_str function; /* the function each run calls */
    struct rs_str cron;     /* 5-field expression or @hourly-style macro */
    struct rs_str zone;     /* IANA zone; optional in PUT */
    struct rs_bytes args;   /* optional in PUT */
    uint64_t max_attempts;  /* RS_HAS_MAX_ATTEMPTS */
    bool has_backoff;
    enum rs_backoff backoff;
    uint64_t initial_delay_ms; /* RS_HAS_INITIAL_DELAY */
    uint64_t max_delay_ms;     /* RS_HAS_MAX_DELAY */
    double jitter;             /* RS_HAS_JITTER */
    uint64_t timeout_ms;       /* RS_HAS_TIMEOUT */
    int64_t priority;          /* RS_HAS_PRIORITY */
    bool paused;               /* RS_HAS_PAUSED in PUT */
    int64_t next_run_at;       /* RS_HAS_NEXT_RUN_AT: unix ms; absent while paused */
    int64_t last_run_at;       /* RS_HAS_LAST_RUN_AT: due time of the latest run */
    int64_t created_at;        /* SCHEDULE only */
};

/* SCHEDULE_GET, SCHEDULE_PAUSE, SCHEDULE_RESUME, SCHEDULE_DELETE. */
struct rs_schedule_ref {
    struct rs_str name;
};

struct rs_schedule_list {
    uint32_t has;
    uint64_t limit;      /* RS_HAS_SCHEDULE_LIMIT, default 100 */
    struct rs_str after; /* optional cursor: names after this one */
};

struct rs_schedules {
    struct rs_schedule *schedules; /* owned by the message (rs_msg_free) */
    uint32_t nschedules;
    struct rs_str next; /* optional cursor of the next page */
};

/* STATISTICS: one function's counters since the daemon started (docs/protocol.md). */
struct rs_statistics_fn {
    struct rs_str name;
    uint64_t enqueued;
    uint64_t deduplicated;
    uint64_t started;
    uint64_t succeeded;
    uint64_t failed;
    uint64_t dead;
    uint64_t timed_out;
    uint64_t reclaimed;
    uint64_t duration_count;
    uint64_t duration_sum_us;
};

/* STATISTICS: jobs of one function not yet final, on the whole database. */
struct rs_statistics_queue {
    struct rs_str name;
    uint64_t pending;
    uint64_t running;
};

/* STATISTICS: one daemon (node) on the database. */
struct rs_statistics_node {
    struct rs_str id;
    struct rs_str host;
    uint64_t pid;
    int64_t heartbeat_age_ms;
    int64_t started_at;
};

/* STATISTICS, the reply to STATS (which has no fields). */
struct rs_statistics {
    uint32_t has;
    struct rs_str server;
    struct rs_str node;
    uint64_t pid;
    int64_t started_at;
    uint64_t uptime_ms;
    uint64_t connections;
    uint64_t workers;
    uint64_t running;
    struct rs_str storage;
    struct rs_str schema;
    bool storage_up;
    int64_t counted_at;                 /* RS_HAS_COUNTED_AT: when queues and nodes were counted */
    struct rs_str count_error;          /* optional: why the latest count failed */
    bool truncated;                     /* RS_HAS_TRUNCATED: lists were cut to fit the frame */
    struct rs_statistics_fn *functions; /* the three lists are owned by the message (rs_msg_free) */
    uint32_t nfunctions;
    struct rs_statistics_queue *queues;
    uint32_t nqueues;
    struct rs_statistics_node *nodes;
    uint32_t nnodes;
};

/* One message. After rs_msg_decode the pointers inside refer to the decoded body. */
struct rs_msg {
    enum rs_msg_type type;
    uint32_t request_id;
    union {
        struct rs_hello hello;
        struct rs_welcome welcome;
        struct rs_error_msg error;
        struct rs_enqueue enqueue;
        struct rs_enqueued enqueued;
        struct rs_register reg;
        struct rs_dispatch dispatch;
        struct rs_ack ack;
        struct rs_abandon abandon;
        struct rs_job_ref ref; /* AWAIT, GET, CANCEL, RETRY */
        struct rs_completed completed;
        struct rs_job job;
        struct rs_list list;
        struct rs_jobs jobs;
        struct rs_schedule schedule; /* SCHEDULE_PUT, SCHEDULE */
        struct rs_schedule_ref sref; /* SCHEDULE_GET, _PAUSE, _RESUME, _DELETE */
        struct rs_schedule_list slist;
        struct rs_schedules schedules;
        struct rs_statistics stats;
    } u;         /* PING, PONG, OK, STATS have no fields */
    void *owned; /* private: the decoder's allocations, one per array field, chained */
};

void rs_limits_default(struct rs_limits *lim);

/*
 * Decode one frame body. On success returns RS_OK and fills *msg, which must be released
 * with rs_msg_free and must not outlive body. On failure returns the code, fills *err,
 * and leaves nothing to free; msg->request_id then holds the request id if it could be
 * read (else 0), for the ERROR reply, and msg->type the type if it is known (else 0).
 * Allocation is bounded by the limits, never by declared counts.
 */
enum rs_code rs_msg_decode(struct rs_msg *msg, const uint8_t *body, size_t len,
                           const struct rs_limits *lim, struct rs_error *err) RS_WARN_UNUSED;

/* Release what rs_msg_decode allocated. Safe on a zeroed or already freed message. */
void rs_msg_free(struct rs_msg *msg);

/*
 * Append one complete frame (length header + body) for msg to out. Returns RS_OK, or
 * RS_E_BAD_VALUE when msg breaks a rule the decoder would reject (missing required string,
 * over a limit), RS_E_LIMIT when out's limit would be passed, or RS_E_INTERNAL when
 * memory ran out; out is unchanged on failure. A required byte string (args of DISPATCH
 * and JOB) with ptr == NULL and len == 0 is sent empty.
 */
enum rs_code rs_msg_encode(struct rs_buf *out, const struct rs_msg *msg) RS_WARN_UNUSED;

/* Wire names of enums, and their inverse (returning -1 for an unknown name). */
const char *rs_status_name(enum rs_status s);
int rs_status_parse(const char *s, size_t len);
const char *rs_backoff_name(enum rs_backoff b);
int rs_backoff_parse(const char *s, size_t len);
const char *rs_abandon_reason_name(enum rs_abandon_reason r);
int rs_abandon_reason_parse(const char *s, size_t len);

/* A C string for an rs_str literal: RS_STR("x"). */
#define RS_STR(lit) ((struct rs_str){(lit), (uint32_t)(sizeof(lit) - 1)})

#endif
