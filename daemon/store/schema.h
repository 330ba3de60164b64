/*
 * schema: create and upgrade the job engine's tables in PostgreSQL at daemon start.
 * Blocking libpq on purpose: it runs once, before the event loop, and nothing waits on it.
 */
#ifndef RESEOLIO_STORE_SCHEMA_H
#define RESEOLIO_STORE_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#define SCHEMA_MUST_CHECK __attribute__((warn_unused_result))

/* The schema used when the configuration names none. */
#define SCHEMA_DEFAULT "reseolio"

/* True when name is a schema name the daemon accepts: [a-z_][a-z0-9_]{0,62}. The rule keeps
 * names portable and unambiguous; they are still always quoted when put into SQL. */
bool schema_name_valid(const char *name);

/* The highest migration version compiled into this binary. */
int schema_version_known(void);

/*
 * Bring schema `name` in the database at conninfo up to schema_version_known(): create the
 * schema if needed and apply, in one transaction under a transaction-scoped advisory lock, every
 * migration not yet recorded in its schema_migrations table. Safe to run from several daemons
 * at once: the lock serialises them and the later ones find nothing to do.
 * Returns 0 on success with *version set to the schema's version (when version is not NULL).
 * Returns -1 with a message for people in err (never containing a password) when the database
 * is unreachable, the name is invalid, a migration fails (nothing is applied then), or the
 * schema is at a newer version than this binary knows (the daemon must not touch it).
 */
SCHEMA_MUST_CHECK int schema_migrate(const char *conninfo, const char *name, int *version,
                                     char *err, size_t errlen);

#endif
