/*
 * stmts: every SQL statement the job engine runs, prepared once per session by pgconn.
 * The one module where job SQL lives; jobstore.c fills the parameters and reads the results.
 *
 * Rules for every statement here: numbered parameters only, never SQL built from input;
 * client data (names, keys, args, results, errors) arrive as binary parameters; results come
 * back in binary with times as Unix milliseconds (int8). Parameter lists and result columns are
 * written beside each statement in stmts.c.
 */
#ifndef RESEOLIO_STORE_STMTS_H
#define RESEOLIO_STORE_STMTS_H

#include "pgconn.h"

enum stmt_id {
    /* cron schedules: SQL in schedstmts.c */
    STMT_SCHEDULE_PUT,    /* create or update a schedule by name */
    STMT_SCHEDULE_GET,    /* one schedule */
    STMT_SCHEDULE_LIST,   /* schedules by name, keyset-paginated */
    STMT_SCHEDULE_PAUSE,  /* no more runs */
    STMT_SCHEDULE_RESUME, /* runs again from the next due time after now */
    STMT_SCHEDULE_DELETE, /* remove a schedule (its jobs stay) */
    STMT_SCHEDULE_NEXT,   /* earliest next run of the active schedules (the timer) */
    STMT_SCHEDULE_DUE,    /* active schedules due by a time */
    STMT_SCHEDULE_FIRE,   /* make one run's job and move the schedule on, guarded */
    STMT_ENQUEUE,         /* insert a batch, ON CONFLICT DO NOTHING; wake listeners */
    STMT_ENQUEUE_KEYS,    /* ids of the batch's keyed jobs (new or existing), same transaction */
    STMT_CLAIM,           /* pending, due jobs of some functions -> running, leased to a node */
    STMT_COMPLETE,        /* outcomes of running attempts -> success, pending (retry) or dead */
    STMT_RELEASE,         /* running jobs of a node (all, or some attempts) -> pending or dead */
    STMT_EXPIRE,          /* running attempts past their timeout -> pending or dead */
    STMT_RECLAIM,         /* running jobs of nodes whose heartbeat lapsed -> pending or dead */
    STMT_NODE_BEAT,       /* register a node or refresh its heartbeat */
    STMT_NODE_GONE,       /* remove a node (clean shutdown, after releasing its jobs) */
    STMT_NODE_PRUNE,      /* remove lapsed nodes that hold no running job */
    STMT_PRUNE_JOBS,      /* delete finished jobs past the retention, oldest first */
    STMT_GET,             /* one job */
    STMT_CANCEL,          /* pending or running -> cancelled */
    STMT_RETRY,           /* dead or cancelled -> pending, fresh attempts */
    STMT_LIST,            /* jobs newest first, filtered, keyset-paginated */
    STMT_LIST_STEPS,      /* the same for one job's steps */
    STMT_NEXT_RUN_AT,     /* earliest future run_at among some functions' pending jobs */
    STMT_QUEUE_DEPTH,     /* pending and running jobs counted by function (metrics) */
    STMT_NODE_LIST,       /* the daemons on this database, with their heartbeat age (STATS) */
    STMT_FINALS,          /* where some jobs stand, with the outcome of final ones (AWAIT) */
    STMT_OLDEST_SNAPSHOT, /* the transaction holding back vacuum longest, if old (the sweep) */
    STMT_COUNT
};

/* The statements, indexed by enum stmt_id: hand to pgconn_config.preps/npreps. */
extern const struct pgconn_prep stmts_table[STMT_COUNT];

/* The prepared statement name of id, for pgconn_stmt.name. */
const char *stmts_name(enum stmt_id id);

/* Result columns of STMT_GET, STMT_LIST, and (after STMTS_PREV_COLUMNS) of STMT_CANCEL and
 * STMT_RETRY. Times are Unix ms; started_at, finished_at, result, error, key may be NULL. */
enum stmts_job_col {
    JOBCOL_ID,           /* int8 */
    JOBCOL_NAME,         /* text */
    JOBCOL_STATUS,       /* text: pending, running, success, dead, cancelled */
    JOBCOL_ATTEMPT,      /* int4: attempts started so far; the fencing token */
    JOBCOL_MAX_ATTEMPTS, /* int4: the policy, as enqueued */
    JOBCOL_UNCOUNTED,    /* int4: started attempts that do not count against it */
    JOBCOL_ARGS,         /* bytea */
    JOBCOL_RESULT,       /* bytea */
    JOBCOL_ERROR,        /* text */
    JOBCOL_KEY,          /* text */
    JOBCOL_PRIORITY,     /* int2 */
    JOBCOL_CREATED_AT,   /* int8 */
    JOBCOL_RUN_AT,       /* int8 */
    JOBCOL_STARTED_AT,   /* int8 */
    JOBCOL_FINISHED_AT,  /* int8 */
    JOBCOL_PARENT,       /* int8: the job this is a step of, NULL for none */
    JOBCOL_STEP,         /* int4: its position among the parent's steps */
    JOBCOL_COUNT
};

/* STMT_CANCEL and STMT_RETRY return first the job's state before the statement (status text,
 * lease_node uuid, attempt int4), then the job columns (all NULL when nothing changed). */
#define STMTS_PREV_COLUMNS 3

#endif
