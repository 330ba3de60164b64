/*
 * reseolio-hello: connect to the host's reseoliod, print what WELCOME says, ping it.
 * The smallest program built on libreseolio; scripts/demo runs it.
 */
#include <stdio.h>
#include <stdlib.h>

#include <reseolio.h>

/* Connect (socket from the argument or the default rule), show WELCOME, ping, close. */
int main(int argc, char **argv)
{
    if (argc > 2) {
        fprintf(stderr, "usage: reseolio-hello [SOCKET]\n");
        return 2;
    }
    const char *socket_path = argc == 2 ? argv[1] : NULL;

    struct rs_client_opts opts;
    rs_client_opts_init(&opts);
    opts.name = "reseolio-hello";
    opts.timeout_ms = 5000;

    struct rs_client *c = NULL;
    char *err = NULL;
    enum rs_client_status st = rs_client_connect(socket_path, &opts, &c, &err);
    if (st != RS_CLIENT_OK) {
        fprintf(stderr, "reseolio-hello: %s\n", err != NULL ? err : rs_client_status_name(st));
        free(err);
        return 1;
    }

    const struct rs_client_welcome *w = rs_client_welcome(c);
    printf("connected to %s\n", w->server);
    printf("  protocol version  %u\n", (unsigned)w->version);
    printf("  node id           %s\n", w->node);
    printf("  max frame         %u bytes\n", (unsigned)w->max_frame);
    printf("  storage           %s\n", w->storage);

    st = rs_client_ping(c);
    if (st != RS_CLIENT_OK) {
        fprintf(stderr, "reseolio-hello: ping failed: %s\n", rs_client_errmsg(c));
        rs_client_close(c);
        return 1;
    }
    printf("ping: pong\n");
    rs_client_close(c);
    return 0;
}
