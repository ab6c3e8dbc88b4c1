/*
 * An AIO context (io_setup): its ring is the mapping "/[aio]", its id the ring's address. One
 * write is submitted and reaped before "ready", so the ring has been used. On SIGUSR2 a read of
 * that data is submitted on the same context id and reaped: the context still works.
 * argv[1]: a scratch file; argv[2] "unreaped" (optional) leaves a completed write in the ring
 * at "ready" (a dump must refuse it; the check reaps it first). Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

static int one(aio_context_t ctx, int fd, int op, char *buf, size_t len) {
    struct iocb cb = {0};
    struct iocb *cbs[1] = {&cb};
    cb.aio_fildes = fd;
    cb.aio_lio_opcode = op;
    cb.aio_buf = (uint64_t)(uintptr_t)buf;
    cb.aio_nbytes = len;
    cb.aio_data = 0xfeed;
    if (syscall(SYS_io_submit, ctx, 1, cbs) != 1) return -1;
    struct io_event ev;
    if (syscall(SYS_io_getevents, ctx, 1, 1, &ev, NULL) != 1) return -2;
    if (ev.data != 0xfeed || ev.res != (int64_t)len) return -3;
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) fail("usage: aioring FILE [unreaped]");
    int unreaped = argc > 2 && strcmp(argv[2], "unreaped") == 0;
    signal(SIGUSR2, on_usr2);
    int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) fail("open");
    aio_context_t ctx = 0;
    if (syscall(SYS_io_setup, 64, &ctx)) fail("io_setup");
    char msg[64] = "carried across a checkpoint";
    if (one(ctx, fd, IOCB_CMD_PWRITE, msg, sizeof msg)) fail("the first write");
    struct iocb cb = {0};
    struct iocb *cbs[1] = {&cb};
    if (unreaped) {
        cb.aio_fildes = fd;
        cb.aio_lio_opcode = IOCB_CMD_PWRITE;
        cb.aio_buf = (uint64_t)(uintptr_t)msg;
        cb.aio_nbytes = sizeof msg;
        if (syscall(SYS_io_submit, ctx, 1, cbs) != 1) fail("the unreaped write");
        struct timespec wait = {0, 100 * 1000 * 1000};
        nanosleep(&wait, NULL); /* a buffered write completes at once; let it land in the ring */
    }
    printf("ready ctx=%llx\n", (unsigned long long)ctx);
    while (!check) pause();
    if (unreaped) {
        struct io_event ev;
        if (syscall(SYS_io_getevents, ctx, 1, 1, &ev, NULL) != 1) fail("reaping the left write");
    }
    char back[64] = {0};
    int r = one(ctx, fd, IOCB_CMD_PREAD, back, sizeof back);
    if (r) { printf("FAIL: a read on context %llx: step %d\n", (unsigned long long)ctx, -r); return 1; }
    if (memcmp(back, msg, sizeof msg)) fail("read back other bytes");
    if (syscall(SYS_io_destroy, ctx)) fail("io_destroy");
    printf("PASS ctx=%llx\n", (unsigned long long)ctx);
    return 0;
}
