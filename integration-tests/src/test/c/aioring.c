/*
 * An AIO context (io_setup): its ring is the mapping "/[aio]", its id the ring's address. One
 * write is submitted and reaped before "ready", so the ring has been used. On SIGUSR2 a read of
 * that data is submitted on the same context id and reaped: the context still works.
 * argv[1]: a scratch file; argv[2] "unreaped" (optional) first turns the ring almost once round
 * (requests submitted and reaped), then leaves UNREAPED writes (O_DIRECT where the file system
 * has it, so they may still be in flight at "ready") whose events wrap round the ring's end. After
 * the restore the ring must show the same head and tail, and the program reaps those very events,
 * in order, each with its own data and result. Prints PASS or FAIL: reason.
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

#define UNREAPED 10
#define BLOCK 4096

/* The head of struct aio_ring, which the kernel maps at the context id. */
struct ring {
    unsigned id, nr, head, tail;
};

static int submit(aio_context_t ctx, int fd, int op, char *buf, size_t len, long long off, uint64_t data) {
    struct iocb cb = {0};
    struct iocb *cbs[1] = {&cb};
    cb.aio_fildes = fd;
    cb.aio_lio_opcode = op;
    cb.aio_buf = (uint64_t)(uintptr_t)buf;
    cb.aio_nbytes = len;
    cb.aio_offset = off;
    cb.aio_data = data;
    return syscall(SYS_io_submit, ctx, 1, cbs) == 1 ? 0 : -1;
}

static int one(aio_context_t ctx, int fd, int op, char *buf, size_t len) {
    if (submit(ctx, fd, op, buf, len, 0, 0xfeed)) return -1;
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
    volatile struct ring *ring = (struct ring *)ctx;
    char msg[64] = "carried across a checkpoint";
    if (one(ctx, fd, IOCB_CMD_PWRITE, msg, sizeof msg)) fail("the first write");
    unsigned head = 0, tail = 0;
    char *blocks = NULL;
    if (unreaped) {
        /* round the ring until the unreaped events wrap past its end */
        unsigned turn = ring->nr - 1 - UNREAPED / 2;
        while (ring->head < turn) {
            if (one(ctx, fd, IOCB_CMD_PWRITE, msg, sizeof msg)) fail("a write turning the ring");
        }
        char path[4096];
        snprintf(path, sizeof path, "%s.direct", argv[1]);
        int dfd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
        if (dfd < 0) dfd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        if (dfd < 0) fail("open the direct file");
        if (posix_memalign((void **)&blocks, BLOCK, UNREAPED * BLOCK)) fail("posix_memalign");
        for (int i = 0; i < UNREAPED; i++) {
            memset(blocks + i * BLOCK, 'a' + i, BLOCK);
            if (submit(ctx, dfd, IOCB_CMD_PWRITE, blocks + i * BLOCK, BLOCK, (long long)i * BLOCK, 0x100 + i))
                fail("an unreaped write");
        }
        head = ring->head;
        tail = (head + UNREAPED) % ring->nr;
    }
    printf("ready ctx=%llx head=%u tail=%u nr=%u\n", (unsigned long long)ctx, head, tail, ring->nr);
    while (!check) pause();
    if (unreaped) {
        if (ring->head != head || ring->tail != tail) {
            printf("FAIL: the ring has head %u tail %u, not %u %u\n", ring->head, ring->tail, head, tail);
            return 1;
        }
        struct io_event ev[UNREAPED];
        long got = syscall(SYS_io_getevents, ctx, UNREAPED, UNREAPED, ev, NULL);
        if (got != UNREAPED) { printf("FAIL: reaped %ld events, not %d\n", got, UNREAPED); return 1; }
        for (int i = 0; i < UNREAPED; i++) {
            if (ev[i].data != (uint64_t)(0x100 + i) || ev[i].res != BLOCK) {
                printf("FAIL: event %d has data %llx res %lld\n", i, (unsigned long long)ev[i].data,
                       (long long)ev[i].res);
                return 1;
            }
        }
        struct timespec none = {0, 0};
        if (syscall(SYS_io_getevents, ctx, 0, 1, ev, &none) != 0) fail("an event more than were left");
    }
    char back[64] = {0};
    int r = one(ctx, fd, IOCB_CMD_PREAD, back, sizeof back);
    if (r) { printf("FAIL: a read on context %llx: step %d\n", (unsigned long long)ctx, -r); return 1; }
    if (memcmp(back, msg, sizeof msg)) fail("read back other bytes");
    if (syscall(SYS_io_destroy, ctx)) fail("io_destroy");
    printf("PASS ctx=%llx\n", (unsigned long long)ctx);
    return 0;
}
