/*
 * Which PostgreSQL a daemon or a client names: host, port, database and user parsed from a
 * libpq connection string or URL, compared for HELLO and shown without the password.
 */
#include "storage_identity.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The default port of libpq, used when a connection string leaves it out. */
#define STORAGE_DEFAULT_PORT "5432"

/* A copy of s, or of def when s is NULL or empty. */
static char *identity_dup(const char *s, const char *def)
{
    return strdup(s != NULL && s[0] != '\0' ? s : def);
}

/* Build the display string from the normalised fields. */
static char *identity_display(const struct storage_identity *id)
{
    size_t n = strlen(id->user) + strlen(id->host) + strlen(id->port) + strlen(id->dbname) + 32;
    char *s = malloc(n);
    if (s == NULL)
        return NULL;
    snprintf(s, n, "postgresql://%s%s%s:%s/%s", id->user, id->user[0] != '\0' ? "@" : "", id->host,
             id->port, id->dbname);
    return s;
}

/* Parse a connection string or URL into normalised fields. */
int storage_identity_parse(struct storage_identity *id, const char *conninfo, char *err,
                           size_t errlen)
{
    memset(id, 0, sizeof(*id));
    char *pqerr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &pqerr);
    if (opts == NULL) {
        /* libpq's message may quote the input, and with it a password: not repeated. */
        snprintf(err, errlen, "not a valid libpq connection string or URL");
        PQfreemem(pqerr);
        return -1;
    }

    const char *host = NULL, *port = NULL, *dbname = NULL, *user = NULL;
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL)
            continue;
        if (strcmp(o->keyword, "host") == 0)
            host = o->val;
        else if (strcmp(o->keyword, "port") == 0)
            port = o->val;
        else if (strcmp(o->keyword, "dbname") == 0)
            dbname = o->val;
        else if (strcmp(o->keyword, "user") == 0)
            user = o->val;
    }

    id->host = identity_dup(host, "");
    id->port = identity_dup(port, STORAGE_DEFAULT_PORT);
    id->user = identity_dup(user, "");
    id->dbname = identity_dup(dbname, user != NULL ? user : "");
    PQconninfoFree(opts);
    if (id->host == NULL || id->port == NULL || id->user == NULL || id->dbname == NULL ||
        (id->display = identity_display(id)) == NULL) {
        storage_identity_free(id);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* The identity of the private cluster. */
int storage_identity_init_private(struct storage_identity *id)
{
    memset(id, 0, sizeof(*id));
    id->is_private = true;
    id->display = strdup(STORAGE_IDENTITY_PRIVATE);
    return id->display != NULL ? 0 : -1;
}

/* Compare two identities field by field. */
bool storage_identity_equal(const struct storage_identity *a, const struct storage_identity *b)
{
    if (a->is_private || b->is_private)
        return a->is_private && b->is_private;
    return strcmp(a->host, b->host) == 0 && strcmp(a->port, b->port) == 0 &&
           strcmp(a->dbname, b->dbname) == 0 && strcmp(a->user, b->user) == 0;
}

/* Release the strings. */
void storage_identity_free(struct storage_identity *id)
{
    free(id->host);
    free(id->port);
    free(id->dbname);
    free(id->user);
    free(id->display);
    memset(id, 0, sizeof(*id));
}

/* The display form of a connection string, which leaves the password out. */
char *storage_identity_redact(const char *conninfo)
{
    struct storage_identity id;
    char err[128];
    if (storage_identity_parse(&id, conninfo, err, sizeof(err)) != 0)
        return NULL;
    char *s = id.display;
    id.display = NULL;
    storage_identity_free(&id);
    return s;
}
