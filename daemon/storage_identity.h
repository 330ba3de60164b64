/*
 * Which PostgreSQL a daemon or a client names: host, port, database and user parsed from a
 * libpq connection string or URL, compared for HELLO and shown without the password.
 */
#ifndef RESEOLIOD_STORAGE_IDENTITY_H
#define RESEOLIOD_STORAGE_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

/* The display name of the daemon's own private cluster (no --storage given). */
#define STORAGE_IDENTITY_PRIVATE "private"

/*
 * Owner: whoever embeds it; release with storage_identity_free. Fields are normalised so
 * that two identities compare field by field: an absent host is "" (libpq's default Unix
 * socket), an absent port is "5432", an absent user is "", an absent database is the user.
 */
struct storage_identity {
    bool is_private; /* the daemon's own cluster; the strings below are NULL */
    char *host;
    char *port;
    char *dbname;
    char *user;
    char *display; /* postgresql://user@host:port/dbname, never a password */
};

/*
 * Parse a connection string or URL. Returns 0, or -1 with a message in err that never
 * repeats the input (it may hold a password).
 */
int storage_identity_parse(struct storage_identity *id, const char *conninfo, char *err,
                           size_t errlen) __attribute__((warn_unused_result));
/* The identity of the private cluster. Returns 0, or -1 when memory ran out. */
int storage_identity_init_private(struct storage_identity *id) __attribute__((warn_unused_result));
/* True when both name the same database (host, port, dbname and user all equal). */
bool storage_identity_equal(const struct storage_identity *a, const struct storage_identity *b);
/* Release the strings; safe on a zeroed identity. */
void storage_identity_free(struct storage_identity *id);

/*
 * A copy of a connection string fit for logs and replies: the same identity without the
 * password. Returns a malloc'd string (free it), or NULL when the input does not parse or
 * memory ran out.
 */
char *storage_identity_redact(const char *conninfo) __attribute__((warn_unused_result));

#endif
