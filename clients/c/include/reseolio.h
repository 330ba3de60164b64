/*
 * libreseolio: the C client of reseoliod, the Reseolio daemon of this host. Every call
 * returns a status and never aborts; a failed call leaves a message in the client.
 */
#ifndef RESEOLIO_H
#define RESEOLIO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define RS_CLIENT_API        __attribute__((visibility("default")))
#define RS_CLIENT_MUST_CHECK __attribute__((warn_unused_result))
#else
#define RS_CLIENT_API
#define RS_CLIENT_MUST_CHECK
#endif

/* Outcome of every call. */
enum rs_client_status {
    RS_CLIENT_OK = 0,
    RS_CLIENT_E_ARG,      /* a bad argument; nothing was sent */
    RS_CLIENT_E_NOMEM,    /* memory ran out */
    RS_CLIENT_E_CONNECT,  /* the daemon's socket could not be reached */
    RS_CLIENT_E_IO,       /* the connection broke: the client is unusable, close it */
    RS_CLIENT_E_TIMEOUT,  /* no reply in time: the client is unusable, close it */
    RS_CLIENT_E_PROTOCOL, /* the daemon sent what this client cannot read: unusable */
    RS_CLIENT_E_SERVER,   /* the daemon answered ERROR: rs_client_error_code() says which */
};

/* Settings of a connection. Start from rs_client_opts_init(); every field may stay unset. */
struct rs_client_opts {
    const char *name;    /* client name in HELLO; NULL: "libreseolio/<version>" */
    const char *storage; /* the storage the application is configured with (libpq string or
                            URL); the daemon refuses the connection if it serves another.
                            NULL: not checked. Never logged by the daemon with a password. */
    int timeout_ms;      /* bound on connect + handshake and on each blocking call:
                            0 means 30000, a negative value means no bound */
};

/* What the daemon said in WELCOME. Strings are owned by the client. */
struct rs_client_welcome {
    uint32_t version;    /* protocol version of the session */
    const char *node;    /* the daemon's node id, unique per daemon run */
    const char *server;  /* daemon name and version, e.g. "reseoliod/0.1.0" */
    uint32_t max_frame;  /* largest message body the daemon accepts, bytes */
    const char *storage; /* the storage the daemon serves, without password */
};

/* One connection to the daemon. Not thread-safe: use one per thread, or lock around it. */
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
 * handshake. On RS_CLIENT_OK *out is the client (close it with rs_client_close). Otherwise
 * *out is NULL and, when errmsg is not NULL, *errmsg is a message to release with free()
 * (NULL if even that could not be allocated). opts may be NULL for the defaults.
 */
RS_CLIENT_API enum rs_client_status rs_client_connect(const char *socket_path,
                                                      const struct rs_client_opts *opts,
                                                      struct rs_client **out,
                                                      char **errmsg) RS_CLIENT_MUST_CHECK;

/* The WELCOME of this connection; valid until rs_client_close. */
RS_CLIENT_API const struct rs_client_welcome *rs_client_welcome(const struct rs_client *c);

/* Round trip to the daemon (PING, PONG). */
RS_CLIENT_API enum rs_client_status rs_client_ping(struct rs_client *c) RS_CLIENT_MUST_CHECK;

/* Message of the last failed call ("" when none); valid until the next call. */
RS_CLIENT_API const char *rs_client_errmsg(const struct rs_client *c);

/*
 * Wire code of the last ERROR the daemon answered ("storage_mismatch", "unavailable", ...),
 * or NULL when the last failure was not one. See docs/protocol.md §6.
 */
RS_CLIENT_API const char *rs_client_error_code(const struct rs_client *c);

/* The socket, for an event loop: readable means the client has input to process. */
RS_CLIENT_API int rs_client_fd(const struct rs_client *c);

/*
 * Non-blocking mode: when rs_client_fd() is readable, handle what has arrived without
 * waiting for more. Returns RS_CLIENT_OK, or the failure that ended the session: the daemon
 * closed the connection (RS_CLIENT_E_IO) or dropped it with an ERROR such as
 * "shutting_down" (RS_CLIENT_E_SERVER, see rs_client_error_code).
 */
RS_CLIENT_API enum rs_client_status rs_client_process(struct rs_client *c) RS_CLIENT_MUST_CHECK;

/* Close the connection and free the client. NULL is a no-op. */
RS_CLIENT_API void rs_client_close(struct rs_client *c);

/* A short name of a status ("timeout"), for messages. */
RS_CLIENT_API const char *rs_client_status_name(enum rs_client_status st);

#ifdef __cplusplus
}
#endif

#endif
