/*
 * rsbench-poke: make the daemon run one short read-only transaction (a GET of job 1, found
 * or not). bench/run uses it to have the daemon's PostgreSQL session report its statistics
 * now: an idle backend reports them only after a transaction ends, at most once a second.
 */
#include <stdlib.h>
#include <string.h>

#include "benchlib.h"

int main(int argc, char **argv)
{
    const char *socket = argc > 1 ? argv[1] : NULL;
    struct rs_client *c = bench_connect(socket, "rsbench-poke", 0);
    struct rs_job_info *j = NULL;
    enum rs_client_status st = rs_get(c, 1, &j);
    rs_job_info_free(j);
    const char *code = rs_client_error_code(c);
    int status = st == RS_CLIENT_OK || (st == RS_CLIENT_E_SERVER && code != NULL &&
                                        strcmp(code, "not_found") == 0)
                     ? 0
                     : 1;
    if (status != 0)
        fprintf(stderr, "rsbench-poke: %s\n", rs_client_errmsg(c));
    rs_client_close(c);
    return status;
}
