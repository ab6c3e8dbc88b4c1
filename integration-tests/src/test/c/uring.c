/*
 * An io_uring (liburing, 8 SQEs, 16 CQEs) used before and after the checkpoint. Before "ready" it
 * writes and reads back blocks of a scratch file ROUNDS times (the counters go round the rings many
 * times), then leaves three NOPs completed and unreaped (user_data 1, 2, 3) and one read prepared
 * but not submitted (liburing keeps its SQ tail to itself until the submit). After SIGUSR2 it reaps
 * the three NOPs in order, submits the prepared read and checks its data, then writes and reads
 * ROUNDS more blocks. argv[1]: the scratch file; argv[2] (optional): "busy": instead of waiting idle,
 * it keeps a second ring busy with NOPs until SIGUSR2, so the dump meets rings in use; "waiting": a
 * read of an empty pipe is left in flight on the ring (user_data 99; after SIGUSR2 a byte is written
 * and its completion reaped), which a dump must refuse; "registered": the rings are entered by
 * registered slots (io_uring_register_ring_fd: a side ring at slot 0 of the main thread, the main
 * ring at slot 1, and a ring of a second thread at that thread's slot 0), and after SIGUSR2 each is
 * used through its slot (a slot lost or holding another ring fails). Prints the ring's counters at
 * "ready" and PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "workload.h"

#define ROUNDS 1000
#define BLOCK 512

static struct io_uring ring;
static int fd;
static unsigned long rounds;

static void fill(char *buf, unsigned long n) {
    for (int i = 0; i < BLOCK; i++) buf[i] = (char)(n * 31 + i);
}

static struct io_uring_cqe *reap(unsigned long long data, int res) {
    struct io_uring_cqe *cqe;
    int e = io_uring_wait_cqe(&ring, &cqe);
    if (e) { errno = -e; fail("io_uring_wait_cqe"); }
    if (cqe->user_data != data || cqe->res != res) {
        printf("FAIL: completion %llu res %d, expected %llu res %d\n", (unsigned long long)cqe->user_data, cqe->res,
               data, res);
        exit(1);
    }
    io_uring_cqe_seen(&ring, cqe);
    return cqe;
}

/* One block written at its slot and read back through the ring, checked. */
static void round_trip(void) {
    char out[BLOCK], in[BLOCK];
    unsigned long n = rounds++;
    off_t at = (off_t)(n % 64) * BLOCK;
    fill(out, n);
    struct io_uring_sqe *w = io_uring_get_sqe(&ring);
    io_uring_prep_write(w, fd, out, BLOCK, at);
    w->user_data = 1000000 + n;
    w->flags |= IOSQE_IO_LINK;
    struct io_uring_sqe *r = io_uring_get_sqe(&ring);
    io_uring_prep_read(r, fd, in, BLOCK, at);
    r->user_data = 2000000 + n;
    if (io_uring_submit(&ring) != 2) fail("io_uring_submit");
    reap(1000000 + n, BLOCK);
    reap(2000000 + n, BLOCK);
    if (memcmp(in, out, BLOCK)) fail("a block read back differs");
}

/* One NOP through a ring entered by its slot, reaped with the expected user_data. */
static void nop_through(struct io_uring *r, unsigned long long data, const char *what) {
    struct io_uring_sqe *s = io_uring_get_sqe(r);
    io_uring_prep_nop(s);
    s->user_data = data;
    if (io_uring_submit(r) != 1) { printf("FAIL: submitting a NOP through %s\n", what); exit(1); }
    struct io_uring_cqe *c;
    if (io_uring_wait_cqe(r, &c) || c->user_data != data) { printf("FAIL: the NOP of %s\n", what); exit(1); }
    io_uring_cqe_seen(r, c);
}

static struct io_uring side, threads_ring;
static volatile int thread_state; /* 1: registered, 2: passed after the check */

/* A second thread's own ring at its own slot 0: slots are per thread. */
static void *ring_thread(void *arg) {
    (void)arg;
    if (io_uring_queue_init(4, &threads_ring, 0)) fail("the thread's ring");
    if (io_uring_register_ring_fd(&threads_ring) != 1 || threads_ring.enter_ring_fd != 0) fail("the thread's slot");
    nop_through(&threads_ring, 41, "the thread's ring");
    thread_state = 1;
    while (!check) pause();
    nop_through(&threads_ring, 42, "the thread's ring");
    thread_state = 2;
    return NULL;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) fail("usage: uring FILE [busy]");
    int busy = argc > 2 && strcmp(argv[2], "busy") == 0;
    int waiting = argc > 2 && strcmp(argv[2], "waiting") == 0;
    int pipefd[2];
    static char byte;
    if (pipe(pipefd)) fail("pipe");
    signal(SIGUSR2, on_usr2);
    fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) fail("open");
    int registered = argc > 2 && strcmp(argv[2], "registered") == 0;
    pthread_t thread;
    if (registered) {
        if (io_uring_queue_init(4, &side, 0)) fail("the side ring");
        if (io_uring_register_ring_fd(&side) != 1 || side.enter_ring_fd != 0) fail("registering the side ring");
    }
    int e = io_uring_queue_init(8, &ring, 0);
    if (e) { errno = -e; fail("io_uring_queue_init"); }
    if (registered) {
        if (io_uring_register_ring_fd(&ring) != 1 || ring.enter_ring_fd != 1) fail("registering the ring");
        if (pthread_create(&thread, NULL, ring_thread, NULL)) fail("pthread_create");
        while (!thread_state) usleep(1000);
    }
    for (int i = 0; i < ROUNDS; i++) round_trip();
    for (int i = 1; i <= 3; i++) {
        struct io_uring_sqe *s = io_uring_get_sqe(&ring);
        io_uring_prep_nop(s);
        s->user_data = i;
    }
    if (waiting) {
        struct io_uring_sqe *s = io_uring_get_sqe(&ring);
        io_uring_prep_read(s, pipefd[0], &byte, 1, 0);
        s->user_data = 99;
    }
    if (io_uring_submit(&ring) != 3 + waiting) fail("submit nops");
    static char later[BLOCK], expect[BLOCK];
    unsigned long last = rounds - 1;
    fill(expect, last);
    struct io_uring_sqe *pending = io_uring_get_sqe(&ring);
    io_uring_prep_read(pending, fd, later, BLOCK, (off_t)(last % 64) * BLOCK);
    pending->user_data = 77;
    printf("ready sqhead=%u sqtail=%u cqhead=%u cqtail=%u\n", *ring.sq.khead, *ring.sq.ktail, *ring.cq.khead,
           *ring.cq.ktail);
    if (busy) {
        struct io_uring side;
        if (io_uring_queue_init(4, &side, 0)) fail("second ring");
        while (!check) { /* a second ring, so the NOPs and the prepared read above stay as they are */
            struct io_uring_sqe *s = io_uring_get_sqe(&side);
            io_uring_prep_nop(s);
            s->user_data = 5;
            io_uring_submit(&side);
            struct io_uring_cqe *c;
            if (io_uring_wait_cqe(&side, &c) || c->user_data != 5) fail("second ring's NOP");
            io_uring_cqe_seen(&side, c);
        }
    } else {
        while (!check) pause();
    }
    for (unsigned long i = 1; i <= 3; i++) reap(i, 0);
    if (waiting) {
        if (write(pipefd[1], "x", 1) != 1) fail("write to the pipe");
        reap(99, 1);
        if (byte != 'x') fail("the read in flight read another byte");
    }
    if (registered) {
        nop_through(&side, 6, "the side ring");
        pthread_kill(thread, SIGUSR2);
        pthread_join(thread, NULL);
        if (thread_state != 2) fail("the thread's ring after the check");
    }
    if (io_uring_submit(&ring) != 1) fail("submitting the prepared read");
    reap(77, BLOCK);
    if (memcmp(later, expect, BLOCK)) fail("the prepared read read other data");
    for (int i = 0; i < ROUNDS; i++) round_trip();
    printf("PASS %lu round trips\n", rounds);
    return 0;
}
