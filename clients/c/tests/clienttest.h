/*
 * Helpers shared by the unit tests of libreseolio: a client connected to a fake peer, and a
 * poll loop that drives a client in non-blocking mode until a condition holds.
 */
#ifndef RESEOLIO_CLIENT_TEST_CLIENTTEST_H
#define RESEOLIO_CLIENT_TEST_CLIENTTEST_H

#include <criterion/criterion.h>
#include <poll.h>
#include <stdlib.h>

#include "fakepeer.h"
#include "reseolio.h"

/* Start a fake peer with script and connect a client to it; timeout_ms as in the options. */
static inline struct rs_client *ct_connect(struct fakepeer *p, fp_script script, void *arg,
                                           int timeout_ms, unsigned max_inflight)
{
    cr_assert_eq(fp_start(p, script, arg), 0, "fake peer did not start");
    struct rs_client_opts opts;
    rs_client_opts_init(&opts);
    opts.name = "unit-test";
    opts.timeout_ms = timeout_ms;
    opts.max_inflight = max_inflight;
    struct rs_client *c = NULL;
    char *err = NULL;
    enum rs_client_status st = rs_client_connect(p->path, &opts, &c, &err);
    cr_assert_eq(st, RS_CLIENT_OK, "connect: %s", err != NULL ? err : "?");
    return c;
}

/* Join the peer and fail the test with the script's first failed check. */
static inline void ct_finish(struct fakepeer *p)
{
    bool ok = fp_finish(p);
    cr_expect(ok, "fake peer: %s", p->failure);
}

/*
 * Drive c as an event loop would (poll its fd, rs_client_process) until *count reaches
 * target. Returns the first status of rs_client_process that is not RS_CLIENT_OK, else OK.
 */
static inline enum rs_client_status ct_pump(struct rs_client *c, const int *count, int target)
{
    while (*count < target) {
        short events = POLLIN;
        if (rs_client_want_write(c))
            events |= POLLOUT;
        struct pollfd pfd = {.fd = rs_client_fd(c), .events = events};
        int n = poll(&pfd, 1, FP_TIMEOUT_MS);
        cr_assert_gt(n, 0, "nothing happened in time");
        enum rs_client_status st = rs_client_process(c, pfd.revents);
        if (st != RS_CLIENT_OK)
            return st;
    }
    return RS_CLIENT_OK;
}

#endif
