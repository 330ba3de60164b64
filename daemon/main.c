/*
 * reseoliod's entry point: read the settings, open the socket, set up the storage (the
 * private cluster when none is given, then the schema migrations), start the job engine on
 * one libevent loop, run until SIGTERM or SIGINT, and stop gracefully.
 */
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "engine.h"
#include "log.h"
#include "pgcluster.h"
#include "schema.h"
#include "server.h"

/* Exit statuses: 0 stopped cleanly, 1 could not start or run, 2 bad settings. */
enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* SIGTERM or SIGINT: stop gracefully. */
static void main_on_signal(evutil_socket_t sig, short what, void *arg)
{
    server_stop(arg, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* Storage, schema and engine; blocking, before the loop runs. Returns 0, or -1 with err. */
static int main_start_engine(struct server *server, const struct config *cfg, struct pgcluster *pc,
                             char *err, size_t errlen)
{
    const char *conninfo = cfg->storage;
    if (conninfo == NULL) {
        struct pgcluster_opts o = {.state_dir = cfg->state_dir};
        log_info("no --storage given: using the daemon's private PostgreSQL cluster");
        if (pgcluster_start(&o, pc, err, errlen) != 0)
            return -1;
        conninfo = pc->conninfo;
        log_info("storage: private cluster in %s (PostgreSQL %d, socket in %s, run by %s); it "
                 "stops with the daemon",
                 pc->state_dir, pc->major, pc->sockdir, pc->user);
    }
    int version = 0;
    if (schema_migrate(conninfo, cfg->schema, &version, err, errlen) != 0)
        return -1;
    log_info("storage %s: schema \"%s\" at version %d", server->storage.display, cfg->schema,
             version);
    struct engine_opts eo = {
        .conninfo = conninfo,
        .schema = cfg->schema,
        .node_hex = server->node_id,
        .shutdown_grace_ms = cfg->shutdown_grace_ms,
    };
    return engine_new(&server->engine, server, &eo, err, errlen);
}

/* Stop the private cluster, if one runs; logged. */
static void main_stop_cluster(struct pgcluster *pc)
{
    if (!pc->running)
        return;
    log_info("stopping the private PostgreSQL cluster in %s", pc->state_dir);
    if (pgcluster_stop(pc) != 0)
        log_error("the private cluster did not stop cleanly (see %s)", pc->logfile);
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

    /* A client that goes away mid-write must cost an EPIPE, never the daemon. */
    signal(SIGPIPE, SIG_IGN);

    int status = EXIT_RUNTIME;
    struct server server;
    struct pgcluster pc;
    memset(&pc, 0, sizeof(pc));
    struct event *ev_term = NULL, *ev_int = NULL;
    struct event_base *base = event_base_new();
    if (base == NULL) {
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
    if (main_start_engine(&server, &cfg, &pc, err, sizeof(err)) != 0) {
        log_error("cannot start: %s; exiting", err);
        server_free(&server);
        main_stop_cluster(&pc);
        goto out;
    }
    ev_term = evsignal_new(base, SIGTERM, main_on_signal, &server);
    ev_int = evsignal_new(base, SIGINT, main_on_signal, &server);
    if (ev_term == NULL || ev_int == NULL || event_add(ev_term, NULL) != 0 ||
        event_add(ev_int, NULL) != 0) {
        log_error("cannot watch SIGTERM/SIGINT; exiting");
        server_free(&server);
        main_stop_cluster(&pc);
        goto out;
    }

    log_info("ready: listening on %s (node %s, storage %s, max frame %u, max connections %u)",
             cfg.socket_path, server.node_id, server.storage.display, cfg.max_frame,
             cfg.max_connections);
    if (event_base_dispatch(base) < 0)
        log_error("the event loop failed; exiting");
    else
        status = EXIT_SUCCESS;
    server_free(&server);
    main_stop_cluster(&pc);
    log_info("stopped");

out:
    if (ev_term != NULL)
        event_free(ev_term);
    if (ev_int != NULL)
        event_free(ev_int);
    if (base != NULL)
        event_base_free(base);
    config_free(&cfg);
    return status;
}
