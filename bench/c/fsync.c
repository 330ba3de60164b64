/*
 * rsbench-fsync DIR [N]: what one durable commit costs on this disk right now: N times (200),
 * write 8 kB into a preallocated file in DIR and fdatasync it, as PostgreSQL flushes WAL.
 * Prints one JSON object with p50/p95/p99. On a shared machine this moves with the
 * neighbours' I/O, and every latency figure moves with it: bench/run measures it beside them.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchlib.h"

#define FSYNC_BLOCK 8192
#define FSYNC_FILE  (16 * 1024 * 1024) /* one WAL segment */

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: rsbench-fsync DIR [N] [LABEL]\n");
        return 2;
    }
    unsigned long n = argc > 2 ? bench_parse_ulong("N", argv[2], 1, 100000) : 200;
    const char *label = argc > 3 ? argv[3] : "";
    char path[4096];
    snprintf(path, sizeof(path), "%s/rsbench-fsync.tmp", argv[1]);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    static char block[FSYNC_BLOCK];
    memset(block, 'x', sizeof(block));
    /* Preallocate and flush first, like a recycled WAL segment: then each fdatasync writes
     * data only, no file metadata. */
    for (off_t off = 0; off < FSYNC_FILE; off += FSYNC_BLOCK) {
        if (pwrite(fd, block, sizeof(block), off) != (ssize_t)sizeof(block)) {
            perror("pwrite");
            return 1;
        }
    }
    if (fsync(fd) != 0) {
        perror("fsync");
        return 1;
    }
    struct bench_samples s = {0};
    int status = 0;
    for (unsigned long i = 0; i < n; i++) {
        off_t off = (off_t)(i % (FSYNC_FILE / FSYNC_BLOCK)) * FSYNC_BLOCK;
        int64_t t0 = bench_now_ns();
        if (pwrite(fd, block, sizeof(block), off) != (ssize_t)sizeof(block) || fdatasync(fd) != 0) {
            perror("write + fdatasync");
            status = 1;
            break;
        }
        if (bench_samples_add(&s, bench_now_ns() - t0) != 0) {
            status = 1;
            break;
        }
    }
    close(fd);
    unlink(path);
    printf("{\"bench\":\"fsync\",\"label\":\"%s\",\"ok\":%s,", label,
           status == 0 ? "true" : "false");
    bench_samples_json(stdout, "flush", &s);
    printf("}\n");
    bench_samples_free(&s);
    return status;
}
