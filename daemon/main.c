/*
 * reseoliod's entry point: read the settings, open the socket, start the job engine (which
 * boots the storage in the background: the private cluster when none is given, then the
 * migrations) on one libevent loop, run until SIGTERM or SIGINT, and stop gracefully.
 */
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "engine.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "server.h"

/* Exit statuses: 0 stopped cleanly, 1 could not start or run, 2 bad settings. */
enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* SIGTERM or SIGINT: stop gracefully. */
static void main_on_signal(evutil_socket_t sig, short what, void *arg)
{
    server_stop(arg, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* The engine, which boots the storage in the background. Returns 0, or -1 with err. */
static int main_start_engine(struct server *server, const struct config *cfg, char *err,
                             size_t errlen)
{
    struct engine_opts eo = {
        .storage = cfg->storage,
        .state_dir = cfg->state_dir,
        .display = server->storage.display,
        .schema = cfg->schema,
        .node_hex = server->node_id,
        .shutdown_grace_ms = cfg->shutdown_grace_ms,
        .heartbeat_ms = cfg->heartbeat_ms,
        .retention_s = cfg->retention_s,
        .vacuum_warn_s = cfg->vacuum_warn_s,
        .lease_ms = cfg->lease_ms,
        .unavailable_ms = cfg->unavailable_ms,
    };
    return engine_new(&server->engine, server, &eo, err, errlen);
}

/* Blank s in place: what /proc/PID/cmdline (and environ) shows is this memory. */
static void main_blank(char *s)
{
    size_t n = strlen(s);
    memset(s, '*', n);
}

/*
 * The storage string may hold a password: once it is copied into the settings, overwrite it
 * where ps and /proc/PID/cmdline read it (the argument area) and in the environment we were
 * given. Matched by value, so "--storage X", "--storage=X" and abbreviations ("--stor X") are
 * all covered.
 */
static void main_scrub_storage(int argc, char **argv, const char *storage)
{
    for (int i = 1; storage != NULL && storage[0] != '\0' && i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (strcmp(argv[i], storage) == 0)
            main_blank(argv[i]);
        else if (strncmp(argv[i], "--", 2) == 0 && eq != NULL && strcmp(eq + 1, storage) == 0)
            main_blank(eq + 1);
    }
    char *env = getenv("RESEOLIO_STORAGE"); /* read already; a flag may have beaten it */
    if (env != NULL)
        main_blank(env);
}

/* Parse the settings, run the server, map the outcome to an exit status. */
int main(int argc, char **argv)
{
    struct config cfg;
    char err[512];
    switch (config_load(&cfg, argc, argv, err, sizeof(err))) {
    case CONFIG_RUN:
        break;
    case CONFIG_EXIT:
        config_free(&cfg);
        return EXIT_SUCCESS;
    case CONFIG_INVALID:
        fprintf(stderr, "reseoliod: %s\n", err);
        config_free(&cfg);
        return EXIT_USAGE;
    }
    log_set_level(cfg.log_level);
    main_scrub_storage(argc, argv, cfg.storage);

    /* A client that goes away mid-write must cost an EPIPE, never the daemon. */
    signal(SIGPIPE, SIG_IGN);

    int status = EXIT_RUNTIME;
    struct metrics_http *mhttp = NULL;
    struct server server;
    struct event *ev_term = NULL, *ev_int = NULL;
    struct event_base *base = event_base_new();
    if (base == NULL || metrics_init() != 0) {
        log_error("cannot create the event loop; exiting");
        goto out;
    }
    /* The socket first: a second daemon for it stops here, before touching any storage. */
    switch (server_init(&server, base, &cfg, err, sizeof(err))) {
    case SERVER_OK:
        break;
    case SERVER_IN_USE:
    case SERVER_ERROR:
        log_error("cannot start: %s; exiting", err);
        server_free(&server);
        goto out;
    }
    if (main_start_engine(&server, &cfg, err, sizeof(err)) != 0) {
        log_error("cannot start: %s; exiting", err);
        server_free(&server);
        goto out;
    }
    if (cfg.metrics_addr != NULL &&
        metrics_http_open(&mhttp, &server, cfg.metrics_addr, err, sizeof(err)) != 0) {
        log_error("cannot start: %s; exiting", err);
        server_free(&server);
        goto out;
    }
    ev_term = evsignal_new(base, SIGTERM, main_on_signal, &server);
    ev_int = evsignal_new(base, SIGINT, main_on_signal, &server);
    if (ev_term == NULL || ev_int == NULL || event_add(ev_term, NULL) != 0 ||
        event_add(ev_int, NULL) != 0) {
        log_error("cannot watch SIGTERM/SIGINT; exiting");
        server_free(&server);
        goto out;
    }

    if (cfg.allow_list)
        log_info("allow-list: besides uid %lu and root, %zu uid(s) of --allow-uid and the "
                 "members of %zu group(s) of --allow-gid may connect; others are closed at accept",
                 (unsigned long)geteuid(), cfg.n_allow_uids, cfg.n_allow_gids);
    log_info("ready: listening on %s%s (node %s, storage %s, max frame %u, max connections %u)",
             listener_path(server.listener),
             listener_inherited(server.listener) ? " (socket activation)" : "", server.node_id,
             server.storage.display, cfg.max_frame, cfg.max_connections);
    if (mhttp != NULL)
        log_info("metrics: serving /metrics and /healthz over HTTP on %s", cfg.metrics_addr);
    if (event_base_dispatch(base) < 0)
        log_error("the event loop failed; exiting");
    else
        status = EXIT_SUCCESS;
    /* The engine first: freeing it answers the scrapes that wait for a queue count. */
    server_free(&server);
    log_info("stopped");

out:
    metrics_http_close(mhttp);
    metrics_free();
    if (ev_term != NULL)
        event_free(ev_term);
    if (ev_int != NULL)
        event_free(ev_int);
    if (base != NULL)
        event_base_free(base);
    config_free(&cfg);
    return status;
}
