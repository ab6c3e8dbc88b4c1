/*
 * Memory the kernel writes through pinned pages, without the write fault that pre-copy's tracking
 * sees, while a pre-copy dump runs. Usage: pinwrites MODE DIR. DIR/pinwrites-data holds SLOTS slots
 * of PAGES pages, each page of each slot a pattern of its own. The program reads slot after slot
 * into one PAGES-page buffer, without ever writing the buffer itself, and notes in `done` (its own
 * memory, written by the CPU) the last read that completed. MODE "fixed": the buffer is registered
 * with an io_uring (IORING_REGISTER_BUFFERS) and read into with READ_FIXED from the file (page
 * cache copied through the pin); "aio": the file is opened O_DIRECT and read by AIO (io_submit +
 * io_getevents: the device writes the pinned pages); "direct": the same O_DIRECT file read by
 * pread(2). Prints "ready" after the first read, then reads on until SIGUSR2, checking before each
 * read that every page of the buffer holds slot `done` (or `done + 1`, read but not yet noted): a
 * restore that brought back an older copy stops the reads there. After SIGUSR2 it says what that
 * check found, reads once more the same way and checks that too. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <liburing.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "workload.h"

#define PAGE 4096
#define PAGES 16
#define SLOTS 64

static char *buf;
static int fd;
static struct io_uring ring;
static aio_context_t aio;
static volatile unsigned long done;
static char fault[256]; /* the first check that failed: the loop stops there, and the check after SIGUSR2 says it */

static int holds(unsigned long last);

static void check_buffer(unsigned long last) {
    if (!holds(last)) {
        printf("%s", fault);
        exit(1);
    }
}

static uint64_t word(unsigned long slot, int page, int j) {
    return (uint64_t)slot * 1000003u + (uint64_t)page * 131u + (uint64_t)j + 1;
}

static void read_slot(const char *mode, unsigned long n) {
    off_t at = (off_t)(n % SLOTS) * PAGES * PAGE;
    size_t len = PAGES * PAGE;
    if (!strcmp(mode, "fixed")) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
        io_uring_prep_read_fixed(sqe, fd, buf, len, at, 0);
        int e = io_uring_submit_and_wait(&ring, 1);
        if (e < 0) { errno = -e; fail("io_uring_submit_and_wait"); }
        struct io_uring_cqe *cqe;
        if ((e = io_uring_wait_cqe(&ring, &cqe))) { errno = -e; fail("io_uring_wait_cqe"); }
        if (cqe->res != (int)len) { errno = -cqe->res; fail("READ_FIXED"); }
        io_uring_cqe_seen(&ring, cqe);
    } else if (!strcmp(mode, "aio")) {
        struct iocb cb = {0};
        cb.aio_fildes = fd;
        cb.aio_lio_opcode = IOCB_CMD_PREAD;
        cb.aio_buf = (uint64_t)(uintptr_t)buf;
        cb.aio_nbytes = len;
        cb.aio_offset = at;
        struct iocb *cbs[1] = {&cb};
        if (syscall(SYS_io_submit, aio, 1, cbs) != 1) fail("io_submit");
        struct io_event ev;
        long got;
        while ((got = syscall(SYS_io_getevents, aio, 1, 1, &ev, NULL)) < 0 && errno == EINTR) {
        }
        if (got != 1 || ev.res != (long long)len) fail("io_getevents");
    } else {
        ssize_t got;
        while ((got = pread(fd, buf, len, at)) < 0 && errno == EINTR) {
        }
        if (got != (ssize_t)len) fail("pread O_DIRECT");
    }
}

/* The slot every page of the buffer holds: `done` or `done + 1`, else fails naming the page. */
static int holds(unsigned long last) {
    for (int p = 0; p < PAGES; p++) {
        const uint64_t *w = (const uint64_t *)(buf + p * PAGE);
        int ok = 0;
        for (unsigned long n = last; n <= last + 1 && !ok; n++) {
            ok = 1;
            for (int j = 0; j < PAGE / 8 && ok; j++) ok = w[j] == word(n % SLOTS, p, j);
        }
        if (!ok) {
            snprintf(fault, sizeof fault, "FAIL: buffer page %d holds neither slot %lu nor %lu (read %lu; first word %llu)\n",
                     p, last % SLOTS, (last + 1) % SLOTS, last, (unsigned long long)w[0]);
            return 0;
        }
    }
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 3) fail("usage: pinwrites fixed|aio|direct DIR");
    const char *mode = argv[1];
    char path[4096];
    snprintf(path, sizeof path, "%s/pinwrites-data", argv[2]);
    int w = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (w < 0) fail("create the data file");
    static uint64_t page[PAGE / 8];
    for (unsigned long s = 0; s < SLOTS; s++) {
        for (int p = 0; p < PAGES; p++) {
            for (int j = 0; j < PAGE / 8; j++) page[j] = word(s, p, j);
            if (write(w, page, PAGE) != PAGE) fail("write the data file");
        }
    }
    if (fsync(w)) fail("fsync");
    close(w);
    fd = open(path, O_RDONLY | (strcmp(mode, "fixed") ? O_DIRECT : 0));
    if (fd < 0) fail("open the data file");
    buf = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) fail("mmap");
    if (!strcmp(mode, "fixed")) {
        int e = io_uring_queue_init(4, &ring, 0);
        if (e) { errno = -e; fail("io_uring_queue_init"); }
        struct iovec iv = {buf, PAGES * PAGE};
        if ((e = io_uring_register_buffers(&ring, &iv, 1))) { errno = -e; fail("io_uring_register_buffers"); }
    } else if (!strcmp(mode, "aio")) {
        if (syscall(SYS_io_setup, 8, &aio)) fail("io_setup");
    } else if (strcmp(mode, "direct")) {
        fail("mode: fixed, aio or direct");
    }
    signal(SIGUSR2, on_usr2);
    unsigned long n = 0;
    read_slot(mode, n);
    done = n;
    printf("ready\n");
    fflush(stdout);
    while (!check) {
        /* between two reads the buffer holds what the last one read: a restore that brought back an older copy
         * is caught by the next look, before a read overwrites it */
        if (!fault[0] && holds(done)) {
            read_slot(mode, ++n);
            done = n;
        }
        usleep(300);
    }
    check_buffer(done);
    read_slot(mode, done + 7);
    check_buffer(done + 7);
    printf("PASS reads=%lu\n", done);
    return 0;
}
