/*
 * libreseolio: the C client of reseoliod, the Reseolio daemon of this host. Every call
 * returns a status and never aborts; a failed call leaves a message in the client.
 *
 * Three ways to use one connection (struct rs_client), freely mixed on one thread:
 *   - blocking calls (rs_enqueue, rs_await, rs_get, ...) for simple programs;
 *   - non-blocking calls (rs_enqueue_async, ...) whose callbacks run from rs_client_process,
 *     driven by the application's event loop through rs_client_fd / rs_client_want_write;
 *   - a worker: rs_worker_register handlers, then rs_worker_run until rs_worker_stop.
 * A blocking call is the non-blocking machinery plus a poll loop: while it waits, replies to
 * other requests run their callbacks and jobs the daemon dispatches are queued for the worker.
 *
 * Threads: a client is not thread-safe; use it from one thread at a time (one client per
 * thread is the simple rule). The exceptions are rs_worker_stop (any thread, or a signal
 * handler) and the rs_job_* functions that handlers call on their pool threads.
 *
 * Ownership: a pointer returned through an out-parameter is the caller's and is released by the
 * function its comment names; a pointer inside a struct given to a callback is valid only
 * until the callback returns; any other returned pointer belongs to the client.
 */
#ifndef RESEOLIO_H
#define RESEOLIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define RS_CLIENT_API          __attribute__((visibility("default")))
#define RS_CLIENT_MUST_CHECK   __attribute__((warn_unused_result))
#define RS_CLIENT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define RS_CLIENT_API
#define RS_CLIENT_MUST_CHECK
#define RS_CLIENT_PRINTF(f, a)
#endif

/* ---- Status and errors ------------------------------------------------------------------ */

/* Outcome of every call. */
enum rs_client_status {
    RS_CLIENT_OK = 0,
    RS_CLIENT_E_ARG,      /* a bad argument, or a call not allowed now; nothing was sent */
    RS_CLIENT_E_NOMEM,    /* memory ran out */
    RS_CLIENT_E_CONNECT,  /* the daemon's socket could not be reached */
    RS_CLIENT_E_IO,       /* the connection broke: the client is unusable, close it */
    RS_CLIENT_E_TIMEOUT,  /* no reply in time, or AWAIT's own timeout passed (error code
                             "timeout"). The client stays usable: a late reply is dropped */
    RS_CLIENT_E_PROTOCOL, /* the daemon sent what this client cannot read: unusable */
    RS_CLIENT_E_SERVER,   /* the daemon answered ERROR: rs_client_error_code() says which */
    RS_CLIENT_E_LIMIT,    /* a bounded queue of the client is full (requests in flight, or
                             output the daemon has not read yet): process replies, retry */
    RS_CLIENT_E_CLOSED,   /* the client was closed by a callback during this call (it is
                             freed now: do not touch it), or before the reply came */
};

/* A short name of a status ("timeout"), for messages; a static string. */
RS_CLIENT_API const char *rs_client_status_name(enum rs_client_status st);

/* ---- Connection ------------------------------------------------------------------------- */

/* Settings of a connection. Start from rs_client_opts_init(); every field may stay unset. */
struct rs_client_opts {
    const char *name;      /* client name in HELLO; NULL: "libreseolio/<version>" */
    const char *storage;   /* the storage the application is configured with (libpq string or
                              URL); the daemon refuses the connection if it serves another.
                              NULL: not checked. Never logged by the daemon with a password. */
    int timeout_ms;        /* bound on connect + handshake and on each blocking call (except
                              rs_await, bounded by its own timeout): 0 means 30000, a negative
                              value means no bound */
    unsigned max_inflight; /* requests sent and not yet answered, at most (bounds memory);
                              0 means 4096; at most 65536 */
};

/* What the daemon said in WELCOME. Strings are owned by the client. */
struct rs_client_welcome {
    uint32_t version;    /* protocol version of the session */
    const char *node;    /* the daemon's node id, unique per daemon run */
    const char *server;  /* daemon name and version, e.g. "reseoliod/0.1.0" */
    uint32_t max_frame;  /* largest message body the daemon accepts, bytes */
    const char *storage; /* the storage the daemon serves, without password */
};

/* One connection to the daemon. Owner: the application, from connect to rs_client_close. */
struct rs_client;

/* Fill opts with the defaults. */
RS_CLIENT_API void rs_client_opts_init(struct rs_client_opts *opts);

/*
 * The socket path every Reseolio client uses when none is given: $RESEOLIO_SOCKET, else
 * $XDG_RUNTIME_DIR/reseolio/reseolio.sock, else /tmp/reseolio-$UID/reseolio.sock.
 * Returns 0, or -1 when it does not fit in size.
 */
RS_CLIENT_API int rs_client_default_socket(char *buf, size_t size) RS_CLIENT_MUST_CHECK;

/*
 * Connect to the daemon at socket_path (NULL: rs_client_default_socket) and do the
 * handshake (blocking, bounded by opts->timeout_ms). On RS_CLIENT_OK *out is the client
 * (close it with rs_client_close). Otherwise *out is NULL and, when errmsg is not NULL,
 * *errmsg is a message to release with free() (NULL if even that could not be allocated).
 * opts may be NULL for the defaults.
 */
RS_CLIENT_API enum rs_client_status rs_client_connect(const char *socket_path,
                                                      const struct rs_client_opts *opts,
                                                      struct rs_client **out,
                                                      char **errmsg) RS_CLIENT_MUST_CHECK;

/* The WELCOME of this connection; owned by the client, valid until rs_client_close. */
RS_CLIENT_API const struct rs_client_welcome *rs_client_welcome(const struct rs_client *c);

/* Round trip to the daemon (PING, PONG), blocking. */
RS_CLIENT_API enum rs_client_status rs_client_ping(struct rs_client *c) RS_CLIENT_MUST_CHECK;

/* Message of the last failed call ("" when none); owned by the client, valid until its next
 * call. */
RS_CLIENT_API const char *rs_client_errmsg(const struct rs_client *c);

/*
 * Wire code of the last ERROR the daemon answered ("storage_mismatch", "unavailable", ...),
 * or NULL when the last failure was not one. See docs/protocol.md §6. Owned by the client,
 * valid until its next call.
 */
RS_CLIENT_API const char *rs_client_error_code(const struct rs_client *c);

/* True when the daemon's last ERROR said the same request may succeed later. */
RS_CLIENT_API bool rs_client_error_retryable(const struct rs_client *c);

/*
 * Close the connection and free the client. Callbacks of requests still in flight run once
 * more with RS_CLIENT_E_CLOSED. Inside a callback of this client the close is deferred until
 * the call that ran the callback returns (with RS_CLIENT_E_CLOSED). NULL is a no-op.
 */
RS_CLIENT_API void rs_client_close(struct rs_client *c);

/* ---- Jobs ------------------------------------------------------------------------------- */

/* Where a job is in its life (docs/architecture.md has the state machine). */
enum rs_job_status {
    RS_JOB_PENDING = 0, /* waiting to be due, or for a worker */
    RS_JOB_RUNNING,     /* an attempt is running on a worker */
    RS_JOB_SUCCESS,     /* final: the function returned; the result is kept */
    RS_JOB_DEAD,        /* final: attempts used up, or a non-retryable error */
    RS_JOB_CANCELLED,   /* final: cancelled (RETRY makes it pending again) */
};

/* Wire name of a job status ("success"); a static string. */
RS_CLIENT_API const char *rs_job_status_name(enum rs_job_status s);

/* How retry delays grow (docs/protocol.md, ENQUEUE). */
enum rs_client_backoff {
    RS_CLIENT_BACKOFF_DEFAULT = 0, /* the daemon's default (exponential) */
    RS_CLIENT_BACKOFF_FIXED,
    RS_CLIENT_BACKOFF_LINEAR,
    RS_CLIENT_BACKOFF_EXPONENTIAL,
};

/*
 * Every option of ENQUEUE. Start from rs_enqueue_opts_init(): it marks every field "unset"
 * (the daemon's default applies), which for some fields is not 0.
 */
struct rs_enqueue_opts {
    const char *idempotency_key; /* 1..255 bytes: a second enqueue of the same name and key
                                    returns the first job (deduplicated). NULL: none */
    unsigned max_attempts;       /* 1..1000; 0: default (3) */
    enum rs_client_backoff backoff;
    int64_t initial_delay_ms; /* 0..30 days; < 0: default (1000) */
    int64_t max_delay_ms;     /* 0..30 days; < 0: default (60000) */
    double jitter;            /* 0..1; < 0: default (0.1) */
    int64_t timeout_ms;       /* one attempt's time, 1 ms..1 day; <= 0: default (30000) */
    int priority;             /* -32768..32767, higher runs first; default 0 */
    int64_t run_at_ms;        /* earliest start, Unix ms; 0: now */
    int64_t delay_ms;         /* earliest start relative to the daemon's clock, 0..30 days;
                                 0: now. Not together with run_at_ms */
    uint64_t parent;          /* a step of this job (see rs_job_step); 0: not a step */
    uint64_t step;            /* with parent: its position among the parent's calls */
};

/* Fill opts with "unset" everywhere. */
RS_CLIENT_API void rs_enqueue_opts_init(struct rs_enqueue_opts *opts);

/* The answer to an enqueue; the job is durable once it is given. */
struct rs_enqueue_result {
    uint64_t job;      /* the job id */
    bool deduplicated; /* true: an existing job was returned for the idempotency key */
};

/* A job that became final, as AWAIT reports it. Owner: see the function that returned it. */
struct rs_completion {
    uint64_t job;
    enum rs_job_status status; /* RS_JOB_SUCCESS, RS_JOB_DEAD or RS_JOB_CANCELLED */
    uint64_t attempt;          /* the attempt that ended the job, 0 if it never ran */
    uint8_t *result;           /* with success: the result bytes (NULL when none was sent) */
    size_t result_len;
    char *error; /* with dead: the last error, NUL-terminated; else NULL */
};

/* Everything the daemon knows of one job. Owner: see the function that returned it. */
struct rs_job_info {
    uint64_t id;
    char *name; /* the function */
    enum rs_job_status status;
    uint64_t attempt; /* attempts started so far */
    uint64_t max_attempts;
    uint8_t *args; /* the arguments as enqueued (never NULL, may be empty) */
    size_t args_len;
    uint8_t *result; /* with success: the result; NULL when absent */
    size_t result_len;
    char *error; /* the last error if any attempt failed; else NULL */
    char *key;   /* the idempotency key; else NULL */
    int priority;
    int64_t created_at;  /* Unix ms */
    int64_t run_at;      /* when it is (or was) next due, Unix ms */
    int64_t started_at;  /* when the latest attempt started, Unix ms; 0: never */
    int64_t finished_at; /* when the job became final, Unix ms; 0: not final */
    uint64_t parent;     /* the job this is a step of; 0: not a step */
    uint64_t step;       /* with parent: its position among the parent's calls */
};

/* One page of LIST, newest first. Owner: see the function that returned it. */
struct rs_job_list {
    struct rs_job_info *jobs; /* count entries */
    size_t count;
    uint64_t next; /* cursor of the next page for rs_list; 0 on the last page */
};

/* Which jobs LIST returns; a zeroed struct means all, 100 per page. */
struct rs_list_filter {
    bool by_status; /* only jobs in status */
    enum rs_job_status status;
    const char *name; /* only jobs of this function; NULL: any */
    unsigned limit;   /* page size 1..1000; 0: 100 */
    uint64_t parent;  /* only the steps of this job; 0: any */
};

/* Free a completion and everything in it. NULL is a no-op. */
RS_CLIENT_API void rs_completion_free(struct rs_completion *c);
/* Free a job and everything in it. NULL is a no-op. */
RS_CLIENT_API void rs_job_info_free(struct rs_job_info *j);
/* Free a list page, its jobs and everything in them. NULL is a no-op. */
RS_CLIENT_API void rs_job_list_free(struct rs_job_list *l);

/*
 * Make a job of a call to function name with args (MessagePack bytes by convention, opaque to
 * the daemon; NULL when args_len is 0) and wait until it is durable. opts may be NULL (all
 * defaults). On RS_CLIENT_OK *out holds the job id.
 */
RS_CLIENT_API enum rs_client_status rs_enqueue(struct rs_client *c, const char *name,
                                               const void *args, size_t args_len,
                                               const struct rs_enqueue_opts *opts,
                                               struct rs_enqueue_result *out) RS_CLIENT_MUST_CHECK;

/*
 * Wait until job is final, at most timeout_ms (negative: no bound; the daemon counts it).
 * On RS_CLIENT_OK *out is a completion to release with rs_completion_free. RS_CLIENT_E_TIMEOUT
 * when it is not final in time; RS_CLIENT_E_SERVER "not_found" for an unknown job.
 */
RS_CLIENT_API enum rs_client_status rs_await(struct rs_client *c, uint64_t job, int64_t timeout_ms,
                                             struct rs_completion **out) RS_CLIENT_MUST_CHECK;

/* Details of job. On RS_CLIENT_OK *out is to release with rs_job_info_free. */
RS_CLIENT_API enum rs_client_status rs_get(struct rs_client *c, uint64_t job,
                                           struct rs_job_info **out) RS_CLIENT_MUST_CHECK;

/*
 * Cancel a pending or running job (a running attempt is told to stop). *out as rs_get.
 * RS_CLIENT_E_SERVER "conflict" when the job is already final.
 */
RS_CLIENT_API enum rs_client_status rs_cancel(struct rs_client *c, uint64_t job,
                                              struct rs_job_info **out) RS_CLIENT_MUST_CHECK;

/*
 * Make a dead or cancelled job pending again, due now, with a fresh set of attempts. *out as
 * rs_get. RS_CLIENT_E_SERVER "conflict" in any other state.
 */
RS_CLIENT_API enum rs_client_status rs_retry(struct rs_client *c, uint64_t job,
                                             struct rs_job_info **out) RS_CLIENT_MUST_CHECK;

/*
 * One page of jobs, newest first: filter may be NULL (all); cursor 0 for the first page, else
 * the next of the previous page. On RS_CLIENT_OK *out is to release with rs_job_list_free.
 */
RS_CLIENT_API enum rs_client_status rs_list(struct rs_client *c,
                                            const struct rs_list_filter *filter, uint64_t cursor,
                                            struct rs_job_list **out) RS_CLIENT_MUST_CHECK;

/* ---- Schedules -------------------------------------------------------------------------- */

/* How a schedule's runs are made. Zeroed (or rs_schedule_opts_init) means: UTC, no arguments,
 * the job defaults, a new schedule active and an existing one as it is. */
struct rs_schedule_opts {
    const char *zone; /* IANA time zone, e.g. "Europe/Berlin"; NULL: UTC */
    const void *args; /* the arguments of every run (MessagePack by convention) */
    size_t args_len;
    /* The job options of every run: max_attempts, backoff, initial_delay_ms, max_delay_ms,
     * jitter, timeout_ms, priority (the key, run_at_ms and delay_ms must stay unset). */
    struct rs_enqueue_opts job;
    int paused; /* -1: keep (new: active), 0: active, 1: paused */
};

/* Everything the daemon knows of a schedule. Owner: see the function that returned it. */
struct rs_schedule_info {
    char *name, *function, *cron, *zone;
    uint8_t *args; /* never NULL, may be empty */
    size_t args_len;
    uint64_t max_attempts;
    enum rs_client_backoff backoff; /* never RS_CLIENT_BACKOFF_DEFAULT */
    uint64_t initial_delay_ms, max_delay_ms;
    double jitter;
    uint64_t timeout_ms;
    int priority;
    bool paused;
    int64_t next_run_at; /* Unix ms of the next run; 0 while paused */
    int64_t last_run_at; /* due time of the latest run, Unix ms; 0: none yet */
    int64_t created_at;
};

/* One page of schedules by name. */
struct rs_schedule_page {
    struct rs_schedule_info *schedules; /* count entries */
    size_t count;
    char *next; /* cursor (a name) of the next page for rs_schedule_list; NULL on the last */
};

/* Every option unset (paused -1). */
RS_CLIENT_API void rs_schedule_opts_init(struct rs_schedule_opts *opts);
/* Free a schedule / a page of schedules. NULL is a no-op. */
RS_CLIENT_API void rs_schedule_info_free(struct rs_schedule_info *s);
RS_CLIENT_API void rs_schedule_page_free(struct rs_schedule_page *l);

/*
 * Create the schedule name (1..200 bytes) that runs function at every due time of cron (5
 * fields or @daily and friends) in opts->zone, or update it (idempotent by name). opts may be
 * NULL. RS_CLIENT_E_SERVER "bad_value" for an invalid expression or zone (the message says
 * why). On RS_CLIENT_OK *out is the schedule, to release with rs_schedule_info_free.
 */
RS_CLIENT_API enum rs_client_status
rs_schedule_put(struct rs_client *c, const char *name, const char *function, const char *cron,
                const struct rs_schedule_opts *opts,
                struct rs_schedule_info **out) RS_CLIENT_MUST_CHECK;
/* One schedule; RS_CLIENT_E_SERVER "not_found" when there is none. */
RS_CLIENT_API enum rs_client_status
rs_schedule_get(struct rs_client *c, const char *name,
                struct rs_schedule_info **out) RS_CLIENT_MUST_CHECK;
/* No more runs until resumed. *out as rs_schedule_get (may be NULL: not wanted). */
RS_CLIENT_API enum rs_client_status
rs_schedule_pause(struct rs_client *c, const char *name,
                  struct rs_schedule_info **out) RS_CLIENT_MUST_CHECK;
/* Runs again from the next due time after now. *out as rs_schedule_pause. */
RS_CLIENT_API enum rs_client_status
rs_schedule_resume(struct rs_client *c, const char *name,
                   struct rs_schedule_info **out) RS_CLIENT_MUST_CHECK;
/* Remove it (its jobs stay). */
RS_CLIENT_API enum rs_client_status rs_schedule_delete(struct rs_client *c,
                                                       const char *name) RS_CLIENT_MUST_CHECK;
/* A page of schedules by name: after NULL for the first, else the next of the previous page;
 * limit 0 means 100. *out to release with rs_schedule_page_free. */
RS_CLIENT_API enum rs_client_status
rs_schedule_list(struct rs_client *c, const char *after, unsigned limit,
                 struct rs_schedule_page **out) RS_CLIENT_MUST_CHECK;

/* ---- Statistics (STATS) ----------------------------------------------------------------- */

/* One function's counters on the daemon, since it started. */
struct rs_stats_function {
    char *name; /* "_other": the names past the daemon's 1000th */
    uint64_t enqueued, deduplicated, started, succeeded, failed, dead, timed_out, reclaimed;
    uint64_t duration_count;  /* attempts with a measured duration (DISPATCH to ACK) */
    uint64_t duration_sum_us; /* their total, microseconds */
};

/* Jobs of one function not yet final, on the whole database. */
struct rs_stats_queue {
    char *name;
    uint64_t pending, running;
};

/* One daemon on the database. */
struct rs_stats_node {
    char *id, *host;
    uint64_t pid;
    int64_t heartbeat_age_ms; /* since its last heartbeat */
    int64_t started_at;       /* Unix ms */
};

/* What the daemon says of itself, its database and its queues (docs/protocol.md, STATISTICS).
 * Owner: the caller of rs_stats; release with rs_stats_free. */
struct rs_stats {
    char *server, *node; /* "reseoliod/0.1.0", its node id */
    uint64_t pid;
    int64_t started_at; /* Unix ms */
    uint64_t uptime_ms;
    uint64_t connections, workers, running;
    char *storage, *schema;
    bool storage_up;    /* its PostgreSQL session is up */
    int64_t counted_at; /* when queues and nodes were counted, Unix ms; 0: never */
    char *count_error;  /* why the latest count failed; NULL when it did not */
    bool truncated;     /* lists were cut to fit the frame limit */
    struct rs_stats_function *functions;
    size_t nfunctions;
    struct rs_stats_queue *queues;
    size_t nqueues;
    struct rs_stats_node *nodes;
    size_t nnodes;
};

/* Ask the daemon for its statistics (blocking; answered also while PostgreSQL is down, then
 * storage_up is false). On RS_CLIENT_OK *out is to release with rs_stats_free. */
RS_CLIENT_API enum rs_client_status rs_stats(struct rs_client *c,
                                             struct rs_stats **out) RS_CLIENT_MUST_CHECK;
/* Free statistics and everything in them. NULL is a no-op. */
RS_CLIENT_API void rs_stats_free(struct rs_stats *s);

/* ---- Non-blocking mode ------------------------------------------------------------------ */

/*
 * The outcome of a non-blocking call, given to its callback. It and everything it points to
 * belong to the client and are valid only until the callback returns: copy what you keep.
 */
struct rs_reply {
    enum rs_client_status status; /* RS_CLIENT_OK, or why the call failed */
    const char *error;            /* with a failure: what happened; "" otherwise */
    const char *error_code;       /* RS_CLIENT_E_SERVER (or an AWAIT timeout): the daemon's
                                     code, e.g. "not_found"; else NULL */
    bool retryable;               /* the daemon said the same request may succeed later */
    /* On success exactly the member for the call is set, the others are NULL: */
    const struct rs_enqueue_result *enqueued; /* rs_enqueue_async */
    const struct rs_completion *completion;   /* rs_await_async */
    const struct rs_job_info *job;            /* rs_get_async, rs_cancel_async, rs_retry_async */
    const struct rs_job_list *list;           /* rs_list_async */
    const struct rs_schedule_info *schedule;  /* schedule calls (internal so far) */
    const struct rs_schedule_page *schedules; /* schedule list (internal so far) */
};

/*
 * Callback of a non-blocking call. It runs exactly once per accepted call: from
 * rs_client_process, from any blocking call of the same client (they process what arrives
 * while they wait), from rs_worker_run, or from rs_client_close (RS_CLIENT_E_CLOSED). It may
 * make further calls, blocking ones included, and may close the client.
 */
typedef void (*rs_reply_cb)(struct rs_client *c, const struct rs_reply *reply, void *arg);

/* The socket, to watch for readability in an event loop (owned by the client: never close it). */
RS_CLIENT_API int rs_client_fd(const struct rs_client *c);

/* True when the client has output the socket did not take yet: watch it for writability. */
RS_CLIENT_API bool rs_client_want_write(const struct rs_client *c);

/*
 * Handle what is ready without waiting: read and route every message that has arrived
 * (callbacks run, DISPATCHes are queued for the worker) and write what the socket takes.
 * revents is what poll(2) reported for rs_client_fd (POLLIN, POLLOUT, POLLHUP, POLLERR); 0
 * tries both directions. Returns RS_CLIENT_OK; RS_CLIENT_E_CLOSED when a callback closed the
 * client (it is freed now); or the failure that ended the session: RS_CLIENT_E_IO (the daemon
 * closed the connection), RS_CLIENT_E_SERVER (it dropped us with an ERROR such as
 * "shutting_down", see rs_client_error_code), RS_CLIENT_E_PROTOCOL. Every pending callback has
 * then run with that failure.
 */
RS_CLIENT_API enum rs_client_status rs_client_process(struct rs_client *c,
                                                      int revents) RS_CLIENT_MUST_CHECK;

/*
 * The non-blocking twins of the blocking calls: they queue the request and return at once.
 * RS_CLIENT_OK means cb will run exactly once, later (never from inside this call). Any
 * other status means nothing was queued and cb will not run. RS_CLIENT_E_LIMIT: too many
 * requests in flight or too much unsent output; process replies first.
 */
RS_CLIENT_API enum rs_client_status rs_enqueue_async(struct rs_client *c, const char *name,
                                                     const void *args, size_t args_len,
                                                     const struct rs_enqueue_opts *opts,
                                                     rs_reply_cb cb,
                                                     void *arg) RS_CLIENT_MUST_CHECK;
/* AWAIT without waiting; timeout_ms as rs_await (the daemon answers "timeout" when it passes). */
RS_CLIENT_API enum rs_client_status rs_await_async(struct rs_client *c, uint64_t job,
                                                   int64_t timeout_ms, rs_reply_cb cb,
                                                   void *arg) RS_CLIENT_MUST_CHECK;
/* GET without waiting. */
RS_CLIENT_API enum rs_client_status rs_get_async(struct rs_client *c, uint64_t job, rs_reply_cb cb,
                                                 void *arg) RS_CLIENT_MUST_CHECK;
/* CANCEL without waiting. */
RS_CLIENT_API enum rs_client_status rs_cancel_async(struct rs_client *c, uint64_t job,
                                                    rs_reply_cb cb, void *arg) RS_CLIENT_MUST_CHECK;
/* RETRY without waiting. */
RS_CLIENT_API enum rs_client_status rs_retry_async(struct rs_client *c, uint64_t job,
                                                   rs_reply_cb cb, void *arg) RS_CLIENT_MUST_CHECK;
/* LIST without waiting. */
RS_CLIENT_API enum rs_client_status rs_list_async(struct rs_client *c,
                                                  const struct rs_list_filter *filter,
                                                  uint64_t cursor, rs_reply_cb cb,
                                                  void *arg) RS_CLIENT_MUST_CHECK;
/* PING without waiting. */
RS_CLIENT_API enum rs_client_status rs_client_ping_async(struct rs_client *c, rs_reply_cb cb,
                                                         void *arg) RS_CLIENT_MUST_CHECK;

/* ---- Worker ----------------------------------------------------------------------------- */

/*
 * One attempt of a job, as a handler sees it. Owned by the worker; valid until the handler
 * returns. The rs_job_* functions below are the only ones a handler may call on it, and they
 * are safe on the handler's thread.
 */
struct rs_job_ctx;

/*
 * A function that runs jobs. Return 0 for success (the result is what rs_job_set_result
 * stored, or none), non-zero for failure (the error is what rs_job_set_error stored, else
 * "handler failed", retryable). Handlers run on the worker's pool threads, never on the
 * thread of rs_worker_run; up to the concurrency run at once, so what they share through
 * user must be thread-safe. A handler must not use the client it was registered on (make a
 * client of its own to enqueue from a handler).
 */
typedef int (*rs_handler_fn)(struct rs_job_ctx *job, void *user);

/* The job's id. */
RS_CLIENT_API uint64_t rs_job_id(const struct rs_job_ctx *job);
/* The function name, NUL-terminated; owned by the worker, valid until the handler returns. */
RS_CLIENT_API const char *rs_job_name(const struct rs_job_ctx *job);
/* The arguments and their length; owned by the worker, valid until the handler returns. */
RS_CLIENT_API const uint8_t *rs_job_args(const struct rs_job_ctx *job, size_t *len);
/* This attempt's number, from 1. */
RS_CLIENT_API uint64_t rs_job_attempt(const struct rs_job_ctx *job);
/* The job's attempt limit. */
RS_CLIENT_API uint64_t rs_job_max_attempts(const struct rs_job_ctx *job);
/* When this attempt times out (Unix ms); past it the daemon no longer takes its result. */
RS_CLIENT_API int64_t rs_job_deadline(const struct rs_job_ctx *job);
/*
 * True once the daemon abandoned this attempt (it timed out, the job was cancelled, the
 * daemon is stopping), or the worker handed it back because its stop timeout passed
 * (rs_worker_set_stop_timeout): the handler should return soon; its outcome is dropped.
 */
RS_CLIENT_API bool rs_job_cancelled(const struct rs_job_ctx *job);
/*
 * Durable steps (docs/architecture.md, "Steps"). Make the next enqueue with opts a step of
 * this attempt: sets opts->parent to the job and opts->step to this attempt's next position
 * (0, 1, 2, ... in call order). When the job runs again after a failure and makes the same
 * calls in the same order, each finds the job it made before: a succeeded step is not run
 * again (rs_await returns its result), a dead or cancelled one runs again. Enqueue through a
 * client of the handler's own (not the worker's).
 */
RS_CLIENT_API void rs_job_step(struct rs_job_ctx *job, struct rs_enqueue_opts *opts);

/*
 * rs_await for a handler: job's attempt waits for the job `awaited` (typically its step).
 * While it waits, the daemon lets its worker run steps in its slot, so a parent never keeps
 * its own steps from running (whatever the concurrency). Through a client of the handler's
 * own, as rs_await.
 */
RS_CLIENT_API enum rs_client_status rs_job_await(struct rs_job_ctx *job, struct rs_client *c,
                                                 uint64_t awaited, int64_t timeout_ms,
                                                 struct rs_completion **out) RS_CLIENT_MUST_CHECK;

/* Store a copy of the result bytes (replacing an earlier one). RS_CLIENT_E_NOMEM on failure. */
RS_CLIENT_API enum rs_client_status rs_job_set_result(struct rs_job_ctx *job, const void *result,
                                                      size_t len) RS_CLIENT_MUST_CHECK;
/*
 * Store the failure's message (printf format; invalid UTF-8 is replaced, long messages are
 * cut at 65536 bytes) and whether another attempt may succeed. Returns -1, so a handler can
 * end with `return rs_job_set_error(job, false, "bad args: %s", why);`.
 */
RS_CLIENT_API int rs_job_set_error(struct rs_job_ctx *job, bool retryable, const char *fmt, ...)
    RS_CLIENT_PRINTF(3, 4);

/*
 * Hand this attempt back unfinished instead of recording an outcome: the job becomes pending
 * again at once, for any worker, and the attempt does not count against its max_attempts
 * (ACK release). For a handler that cannot do the job now (its worker is shutting down, a
 * resource it needs is going away). Returns -1, so a handler can end with
 * `return rs_job_release(job);`; a result or error stored is not sent.
 */
RS_CLIENT_API int rs_job_release(struct rs_job_ctx *job);

/*
 * Run handler for jobs of function name (1..255 bytes, at most 256 names per client), with
 * user passed to it. Only recorded here: the daemon learns the names when rs_worker_run
 * starts. Not while rs_worker_run runs. RS_CLIENT_E_ARG for a name registered twice.
 */
RS_CLIENT_API enum rs_client_status rs_worker_register(struct rs_client *c, const char *name,
                                                       rs_handler_fn handler,
                                                       void *user) RS_CLIENT_MUST_CHECK;

/*
 * The most jobs this connection runs at once, over all its names (1..256, default 1): the
 * number of pool threads rs_worker_run starts. Not while rs_worker_run runs.
 */
RS_CLIENT_API enum rs_client_status rs_worker_set_concurrency(struct rs_client *c,
                                                              unsigned n) RS_CLIENT_MUST_CHECK;

/*
 * How long a stopping rs_worker_run lets running handlers finish, in ms (default 0: without
 * limit). When it passes, each attempt still running is handed back to the daemon unfinished
 * (ACK release: another worker runs it, and the attempt does not count) and rs_job_cancelled
 * turns true for it; rs_worker_run still waits for those handlers to return, and drops their
 * outcomes. Not while rs_worker_run runs.
 */
RS_CLIENT_API enum rs_client_status rs_worker_set_stop_timeout(struct rs_client *c,
                                                               unsigned ms) RS_CLIENT_MUST_CHECK;

/*
 * Be a worker until rs_worker_stop: send REGISTER (when the names or the concurrency changed),
 * start the pool threads, run every DISPATCHed job's handler on them (jobs dispatched while
 * the client was busy with other calls were queued and run now) and ACK each outcome; an
 * ABANDON makes rs_job_cancelled true for that attempt. After rs_worker_stop it starts no
 * more jobs: it sends REGISTER with concurrency 0, so that the daemon dispatches nothing more,
 * and hands back every job dispatched but not started (ACK release: another worker runs it,
 * and the attempt does not count). It waits for the running handlers (up to the stop timeout,
 * then hands back those still running, see rs_worker_set_stop_timeout), sends their ACKs,
 * waits for the daemon to take them and the REGISTER, and returns RS_CLIENT_OK; the next
 * rs_worker_run registers the concurrency again. Returns a
 * failure when the connection broke (the running handlers are told to stop, and are waited
 * for). An ACK the daemon answers with ERROR (stale_attempt, unavailable) is not resent: the
 * daemon's timeout retries that attempt. Callbacks of non-blocking calls run from here too.
 * Not from a callback.
 */
RS_CLIENT_API enum rs_client_status rs_worker_run(struct rs_client *c) RS_CLIENT_MUST_CHECK;

/*
 * Ask rs_worker_run to return (see there). Safe from a signal handler and from any thread,
 * also before rs_worker_run started (it then returns at once).
 */
RS_CLIENT_API void rs_worker_stop(struct rs_client *c);

#ifdef __cplusplus
}
#endif

#endif
