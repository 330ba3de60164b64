/*
 * The SQL of cron schedules (migration 002): written here, prepared with the job statements
 * (stmts.c's table holds them under the STMT_SCHEDULE_* ids). Same rules as stmts.h: numbered
 * parameters, binary parameters and results, times as Unix ms.
 */
#ifndef RESEOLIO_STORE_SCHEDSTMTS_H
#define RESEOLIO_STORE_SCHEDSTMTS_H

#include <libpq-fe.h>

/* Result columns of put, get, list, pause and resume: one schedule per row. */
enum schedstmts_col {
    SCHEDCOL_NAME,             /* text */
    SCHEDCOL_FUNCTION,         /* text */
    SCHEDCOL_CRON,             /* text */
    SCHEDCOL_ZONE,             /* text */
    SCHEDCOL_ARGS,             /* bytea */
    SCHEDCOL_MAX_ATTEMPTS,     /* int4 */
    SCHEDCOL_BACKOFF,          /* text */
    SCHEDCOL_INITIAL_DELAY_MS, /* int8 */
    SCHEDCOL_MAX_DELAY_MS,     /* int8 */
    SCHEDCOL_JITTER,           /* float4 */
    SCHEDCOL_TIMEOUT_MS,       /* int4 */
    SCHEDCOL_PRIORITY,         /* int2 */
    SCHEDCOL_PAUSED,           /* bool */
    SCHEDCOL_NEXT_RUN_AT,      /* int8, NULL while paused */
    SCHEDCOL_LAST_RUN_AT,      /* int8, NULL before the first run */
    SCHEDCOL_CREATED_AT,       /* int8 */
    SCHEDCOL_COUNT
};

/* Parameters of each statement. */
#define SCHEDSTMTS_NPARAMS_put    14
#define SCHEDSTMTS_NPARAMS_get    1
#define SCHEDSTMTS_NPARAMS_list   2
#define SCHEDSTMTS_NPARAMS_pause  1
#define SCHEDSTMTS_NPARAMS_resume 4
#define SCHEDSTMTS_NPARAMS_delete 1
#define SCHEDSTMTS_NPARAMS_next   1
#define SCHEDSTMTS_NPARAMS_due    2
#define SCHEDSTMTS_NPARAMS_fire   5

#define SCHEDSTMTS_DECLARE(n)                                                                      \
    extern const char schedstmts_sql_##n[];                                                        \
    extern const Oid schedstmts_types_##n[SCHEDSTMTS_NPARAMS_##n]

SCHEDSTMTS_DECLARE(put);
SCHEDSTMTS_DECLARE(get);
SCHEDSTMTS_DECLARE(list);
SCHEDSTMTS_DECLARE(pause);
SCHEDSTMTS_DECLARE(resume);
SCHEDSTMTS_DECLARE(delete);
SCHEDSTMTS_DECLARE(next);
SCHEDSTMTS_DECLARE(due);
SCHEDSTMTS_DECLARE(fire);

/* A row of stmts_table for statement n: STMT(id, name, ...) spelled for these. */
#define SCHEDSTMTS_PREP(n)                                                                         \
    {                                                                                              \
        "rs_schedule_" #n, schedstmts_sql_##n, SCHEDSTMTS_NPARAMS_##n, schedstmts_types_##n        \
    }

#endif
