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
 * used through its slot (a slot lost or holding another ring fails); "buffers": a sparse table of 8
 * registered buffers (IORING_REGISTER_BUFFERS) holds an mmap'd area at slot 1 and a static one at
 * slot 4, and an empty table of 4 registered files is made; after SIGUSR2, bytes written into the
 * task's memory go out by WRITE_FIXED from slot 1 and come back by READ_FIXED into slot 4 (a buffer
 * registered as a copy, or at another slot, fails), slot 0 must be empty, and files can be opened
 * into file slot 3 but not 4; "files": the scratch file's fd is registered at file slot 0 (which a
 * dump must refuse: fdinfo names it by path only); "sharedfiles": a child made with CLONE_FILES (it
 * shares its parent's fd table: the parent is a helper forked by the main process) leaves a ring of
 * its own only in its slot 0, as "slotonly" does; "slotonly": a helper process holding no ring fd
 * registers a ring at slot 0, then closes its fd and unmaps its areas, so it lives only in that slot
 * (both must be refused; after SIGUSR2 each ring is used through its slot); "single": the ring is
 * set up with IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN, and after SIGUSR2 a second thread must
 * still be refused a register call and a wait on it (EEXIST) while the main thread may;
 * "otherissuer": a second thread sets up a SINGLE_ISSUER ring of its own (which must be refused); "eventfd": an eventfd is
 * registered for the ring's completions (IORING_REGISTER_EVENTFD), and after SIGUSR2 it must count the completions
 * reaped since (a ring made again without it leaves it at 0); "bufring": a provided buffer ring (group 7) is
 * registered (IORING_REGISTER_PBUF_RING, which must be refused); "tuned": the ring is told what no file shows in full:
 * io-wq worker limits 3 and 5, a sparse table of 16 files allocating from slots 4-7, CLOCK_BOOTTIME and NAPI busy
 * polling (100 us, prefer busy poll, dynamic tracking); after SIGUSR2 the limits must read back, a file opened into an
 * allocated slot must land in 4-7, and fdinfo must show the NAPI settings (the clock shows nowhere: the test finds it in
 * a second dump).
 * Prints the ring's counters at "ready" and PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

#define ROUNDS 1000
#define BLOCK 512

static struct io_uring ring;
static int fd;
static unsigned long rounds;
static volatile int thread_state; /* 1: registered, 2: passed after the check */

static void fill(char *buf, unsigned long n) {
    for (int i = 0; i < BLOCK; i++) buf[i] = (char)(n * 31 + i);
}

static struct io_uring_cqe *reap(unsigned long long data, int res);

static void tuned_setup(void) {
    unsigned limits[2] = {3, 5}, clock[4] = {CLOCK_BOOTTIME, 0, 0, 0};
    unsigned napi[4] = {100, 1, 0, 0}; /* busy_poll_to us; prefer_busy_poll 1, opcode 0 (register); dynamic tracking */
    if (io_uring_register_iowq_max_workers(&ring, limits) < 0) fail("IORING_REGISTER_IOWQ_MAX_WORKERS");
    if (io_uring_register_files_sparse(&ring, 16)) fail("a sparse file table");
    if (io_uring_register_file_alloc_range(&ring, 4, 4)) fail("IORING_REGISTER_FILE_ALLOC_RANGE");
    if (syscall(__NR_io_uring_register, ring.ring_fd, 29, clock, 0)) fail("IORING_REGISTER_CLOCK");
    if (syscall(__NR_io_uring_register, ring.ring_fd, 27, napi, 1)) fail("IORING_REGISTER_NAPI");
}

static void tuned_check(void) {
    unsigned limits[2] = {0, 0}; /* zeros change nothing: the call answers the limits in force */
    if (io_uring_register_iowq_max_workers(&ring, limits) < 0) fail("reading the io-wq limits");
    if (limits[0] != 3 || limits[1] != 5) {
        printf("FAIL: io-wq worker limits %u and %u, not 3 and 5\n", limits[0], limits[1]);
        exit(1);
    }
    struct io_uring_sqe *s = io_uring_get_sqe(&ring);
    io_uring_prep_openat_direct(s, AT_FDCWD, "/dev/null", O_RDONLY, 0, IORING_FILE_INDEX_ALLOC);
    s->user_data = 44;
    if (io_uring_submit(&ring) != 1) fail("submitting an open into an allocated slot");
    struct io_uring_cqe *c;
    if (io_uring_wait_cqe(&ring, &c) || c->user_data != 44) fail("the open's completion");
    int slot = c->res;
    io_uring_cqe_seen(&ring, c);
    if (slot < 4 || slot > 7) {
        printf("FAIL: a file opened into an allocated slot landed at %d, outside the range 4-7\n", slot);
        exit(1);
    }
    char path[64], info[4096];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", ring.ring_fd);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(info, 1, sizeof info - 1, f) : 0;
    info[n] = 0;
    if (f) fclose(f);
    if (!strstr(info, "NAPI:\tenabled") || !strstr(info, "napi tracking:\tdynamic")
            || !strstr(info, "napi_busy_poll_dt:\t100000") || !strstr(info, "napi_prefer_busy_poll:\ttrue")) {
        printf("FAIL: the ring's NAPI settings are not as they were: %s\n", info);
        exit(1);
    }
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

#define BIG 8192
static char *big;           /* registered buffer 1: an mmap'd area */
static char small[BLOCK];   /* registered buffer 4 */

/* A fixed write of buffer 1's first n bytes at offset 0 of the scratch file, read back by a fixed read into buffer 4. */
static void fixed_round_trip(int n, char mark) {
    memset(big, mark, BIG);
    for (int i = 0; i < n; i++) big[i] = (char)(mark + i);
    memset(small, 0, sizeof small);
    struct io_uring_sqe *w = io_uring_get_sqe(&ring);
    io_uring_prep_write_fixed(w, fd, big, n, 0, 1);
    w->user_data = 31;
    w->flags |= IOSQE_IO_LINK;
    struct io_uring_sqe *r = io_uring_get_sqe(&ring);
    io_uring_prep_read_fixed(r, fd, small, n, 0, 4);
    r->user_data = 32;
    if (io_uring_submit(&ring) != 2) fail("submitting the fixed write and read");
    reap(31, n);
    reap(32, n);
    if (memcmp(small, big, n)) fail("the fixed read did not bring back what the fixed write took from buffer 1");
}

static void buffers_setup(void) {
    big = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (big == MAP_FAILED) fail("mmap");
    if (io_uring_register_buffers_sparse(&ring, 8)) fail("io_uring_register_buffers_sparse");
    struct iovec one = {big, BIG}, four = {small, sizeof small};
    if (io_uring_register_buffers_update_tag(&ring, 1, &one, NULL, 1) != 1) fail("registering buffer 1");
    if (io_uring_register_buffers_update_tag(&ring, 4, &four, NULL, 1) != 1) fail("registering buffer 4");
    if (io_uring_register_files_sparse(&ring, 4)) fail("io_uring_register_files_sparse");
    fixed_round_trip(BLOCK, 'a');
}

/* An openat of path into fixed file slot `slot`: its result (0 or -errno). */
static int open_direct(unsigned slot, const char *path) {
    struct io_uring_sqe *s = io_uring_get_sqe(&ring);
    io_uring_prep_openat_direct(s, AT_FDCWD, path, O_RDONLY, 0, slot);
    s->user_data = 50 + slot;
    if (io_uring_submit(&ring) != 1) fail("submitting an openat into a file slot");
    struct io_uring_cqe *c;
    if (io_uring_wait_cqe(&ring, &c) || c->user_data != 50 + slot) fail("the openat's completion");
    int res = c->res;
    io_uring_cqe_seen(&ring, c);
    return res;
}

static void buffers_check(const char *path) {
    fixed_round_trip(BLOCK, 'A');      /* memory written now: the kernel's buffer is the task's memory */
    fixed_round_trip(BLOCK / 2, 'q');
    struct io_uring_sqe *s = io_uring_get_sqe(&ring);
    io_uring_prep_read_fixed(s, fd, small, 16, 0, 0);
    s->user_data = 33;
    if (io_uring_submit(&ring) != 1) fail("submitting a fixed read into slot 0");
    struct io_uring_cqe *c;
    if (io_uring_wait_cqe(&ring, &c) || c->user_data != 33) fail("the fixed read into slot 0");
    int res = c->res;
    io_uring_cqe_seen(&ring, c);
    if (res != -EFAULT) { printf("FAIL: registered buffer slot 0 was empty, a read into it gave %d\n", res); exit(1); }
    if ((res = open_direct(3, path)) != 0) { printf("FAIL: openat into file slot 3 gave %d\n", res); exit(1); }
    if ((res = open_direct(4, path)) != -EINVAL) { printf("FAIL: the file table has a slot 4 (%d)\n", res); exit(1); }
}

static struct io_uring side, threads_ring;

static void leave_ring_in_slot_only(void);
static void enter_slot_only(void);

/*
 * A ring left only in slot 0 (its fd closed, its areas unmapped: a ring fd left, or mapped, is
 * refused for that already), entered by the slot after SIGUSR2.
 */
static int shared_files_child(void *ready) {
    leave_ring_in_slot_only();
    if (write(*(int *)ready, "r", 1) != 1) fail("telling the parent");
    while (!check) pause();
    enter_slot_only();
    return 0;
}

/* io_uring_register(IORING_REGISTER_PROBE) of no opcode, and a wait for nothing: 0 or -errno each. */
static void *try_ring(void *out) {
    char probe[16] = {0};
    long *r = out;
    r[0] = syscall(__NR_io_uring_register, ring.ring_fd, IORING_REGISTER_PROBE, probe, 0) < 0 ? -errno : 0;
    r[1] = syscall(__NR_io_uring_enter, ring.ring_fd, 0, 0, IORING_ENTER_GETEVENTS, NULL, 0) < 0 ? -errno : 0;
    return NULL;
}

/* The ring still has one issuer, the main thread, and defers its task work to it. */
static void check_single_issuer(void) {
    long mine[2], other[2];
    pthread_t t;
    try_ring(mine);
    if (pthread_create(&t, NULL, try_ring, other) || pthread_join(t, NULL)) fail("the second thread");
    if (mine[0] || mine[1] || other[0] != -EEXIST || other[1] != -EEXIST) {
        printf("FAIL: single issuer: main thread %ld %ld, another %ld %ld (expected 0 0, %d %d)\n", mine[0], mine[1],
               other[0], other[1], -EEXIST, -EEXIST);
        exit(1);
    }
}

/* A thread that sets up a SINGLE_ISSUER ring and waits. */
static void *other_issuer(void *arg) {
    static struct io_uring mine;
    (void)arg;
    if (io_uring_queue_init(4, &mine, IORING_SETUP_SINGLE_ISSUER)) fail("the thread's single-issuer ring");
    thread_state = 1;
    while (!check) pause();
    return NULL;
}

static pid_t helper;

/*
 * A helper forked before the main ring exists (so it holds no ring fd: a child sharing the main
 * process's table would hold the main ring's too). sharing: it makes the CLONE_FILES child, which
 * leaves a ring only in its slot; else the helper does so itself. On SIGUSR2 the ring is entered by
 * the slot (the helper passes the signal on to the child), and the helper exits with the result.
 */
static void start_helper(int sharing) {
    static int ready[2];
    static char stack[65536] __attribute__((aligned(16)));
    char c;
    if (pipe(ready)) fail("pipe");
    helper = fork();
    if (helper < 0) fail("fork");
    if (helper == 0) {
        int status;
        if (!sharing) {
            shared_files_child(&ready[1]);
            _exit(0);
        }
        pid_t child = clone(shared_files_child, stack + sizeof stack, CLONE_FILES | SIGCHLD, &ready[1]);
        if (child < 0) fail("clone(CLONE_FILES)");
        while (!check) pause();
        kill(child, SIGUSR2);
        if (waitpid(child, &status, 0) != child || !WIFEXITED(status)) _exit(1);
        _exit(WEXITSTATUS(status));
    }
    if (read(ready[0], &c, 1) != 1) fail("the helper's ring");
}

/* A side ring left only in slot 0: its fd closed, its areas unmapped (SINGLE_MMAP: the CQ ring shares the SQ ring's area). */
static void leave_ring_in_slot_only(void) {
    if (io_uring_queue_init(4, &side, 0)) fail("the side ring");
    if (io_uring_register_ring_fd(&side) != 1 || side.enter_ring_fd != 0) fail("registering the side ring");
    nop_through(&side, 71, "the side ring");
    if (!(side.features & IORING_FEAT_SINGLE_MMAP)) fail("a kernel without IORING_FEAT_SINGLE_MMAP");
    if (close(side.ring_fd)) fail("closing the side ring's fd");
    if (munmap(side.sq.ring_ptr, side.sq.ring_sz) || munmap(side.sq.sqes, 4 * sizeof(struct io_uring_sqe)))
        fail("unmapping the side ring");
}

/* A NOP through slot 0 by io_uring_enter alone (the ring's memory is gone): it must complete, i.e. return 0 submitted. */
static void enter_slot_only(void) {
    int r = syscall(__NR_io_uring_enter, 0, 0, 0, IORING_ENTER_REGISTERED_RING, NULL, 0);
    if (r != 0) { printf("FAIL: entering the ring left only in slot 0 gave %d\n", r < 0 ? -errno : r); exit(1); }
}

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
    int sharedfiles = argc > 2 && strcmp(argv[2], "sharedfiles") == 0;
    int slotonly = argc > 2 && strcmp(argv[2], "slotonly") == 0;
    if (sharedfiles || slotonly) start_helper(sharedfiles); /* before the main ring */
    int single = argc > 2 && strcmp(argv[2], "single") == 0;
    int e = io_uring_queue_init(8, &ring, single ? IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN : 0);
    if (e) { errno = -e; fail("io_uring_queue_init"); }
    if (argc > 2 && strcmp(argv[2], "otherissuer") == 0) {
        if (pthread_create(&thread, NULL, other_issuer, NULL)) fail("pthread_create");
        while (!thread_state) usleep(1000);
    }
    if (registered) {
        if (io_uring_register_ring_fd(&ring) != 1 || ring.enter_ring_fd != 1) fail("registering the ring");
        if (pthread_create(&thread, NULL, ring_thread, NULL)) fail("pthread_create");
        while (!thread_state) usleep(1000);
    }
    for (int i = 0; i < ROUNDS; i++) round_trip();
    int tuned = argc > 2 && strcmp(argv[2], "tuned") == 0;
    if (tuned) tuned_setup();
    int buffers = argc > 2 && strcmp(argv[2], "buffers") == 0;
    if (buffers) buffers_setup();
    if (argc > 2 && strcmp(argv[2], "files") == 0 && io_uring_register_files(&ring, &fd, 1)) fail("io_uring_register_files");
    if (argc > 2 && strcmp(argv[2], "bufring") == 0) {
        static struct io_uring_buf_ring *br;
        br = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (br == MAP_FAILED) fail("mmap for the buffer ring");
        io_uring_buf_ring_init(br);
        struct io_uring_buf_reg reg = {.ring_addr = (unsigned long)br, .ring_entries = 8, .bgid = 7};
        if (io_uring_register_buf_ring(&ring, &reg, 0)) fail("io_uring_register_buf_ring");
    }
    int efd = -1;
    if (argc > 2 && strcmp(argv[2], "eventfd") == 0
            && ((efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 || io_uring_register_eventfd(&ring, efd)))
        fail("io_uring_register_eventfd");
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
    uint64_t before = 0;
    if (efd >= 0 && read(efd, &before, 8) != 8) fail("the eventfd counted none of the NOPs done before the dump");
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
    if (sharedfiles || slotonly) {
        int status;
        kill(helper, SIGUSR2);
        if (waitpid(helper, &status, 0) != helper || !WIFEXITED(status) || WEXITSTATUS(status))
            fail("the helper's ring left in its slot, after the check");
    }
    if (single) check_single_issuer();
    if (io_uring_submit(&ring) != 1) fail("submitting the prepared read");
    reap(77, BLOCK);
    if (memcmp(later, expect, BLOCK)) fail("the prepared read read other data");
    if (buffers) buffers_check(argv[1]);
    if (tuned) tuned_check();
    for (int i = 0; i < ROUNDS; i++) round_trip();
    uint64_t after = 0;
    if (efd >= 0 && (read(efd, &after, 8) != 8 || after == 0)) fail("the registered eventfd counted no completion after the check");
    printf("PASS %lu round trips\n", rounds);
    return 0;
}
