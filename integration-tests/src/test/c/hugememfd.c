/*
 * A memfd of huge pages (MFD_HUGETLB, as qemu's memory-backend-memfd,hugetlb=on or DPDK's
 * --in-memory make), three 2 MiB pages, held by an fd with seals that forbid growing and shrinking:
 * the first two pages mapped shared (the first written by the process, the second by a child that
 * has exited since), the third written through a mapping unmapped since, so only the fd holds it.
 * Prints "ready"; on SIGUSR2 checks that the mapping is still hugetlb memory in 2 MiB pages, every
 * page's bytes, the seals, that the fd is still a memfd of that name on hugetlbfs, and that a write
 * through the mapping reads back through the fd; prints PASS or FAIL: reason.
 * With argv[1] "private" it also maps the first two pages privately (qemu's share=off), reads the
 * first and writes the second (copied on write): after the restore that mapping is still hugetlb,
 * its copy holds its bytes, and its untouched page still follows the memfd (a write through the
 * shared mapping shows in it). With "childprivate" a child makes that private mapping, then closes
 * its fd and unmaps the shared mapping, so only its parent holds the memfd; on SIGUSR2 the parent
 * checks its own state, then has the child check its mapping, and reports for both.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include "hugetlbarea.h"

#define HUGE (2 * 1024 * 1024)
#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW)

static volatile sig_atomic_t check;
static void on_usr2(int sig) { (void)sig; check = 1; }
static void fail(const char *why) { printf("FAIL: %s\n", why); exit(1); }
static unsigned char pattern(int page, int i) { return (unsigned char)(i / 512 * (page + 3) + page); }

/* The child of "childprivate": maps the memfd privately, copies its second page on write, then holds
 * nothing else of the memfd; on SIGUSR2 checks that mapping (the parent wrote byte 7 through its own). */
static void private_child(int fd, volatile unsigned char *p, int ready) {
    volatile unsigned char *q = mmap(NULL, 2 * HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (q == MAP_FAILED || q[0] != pattern(0, 0)) _exit(2);
    for (int i = 0; i < HUGE; i += 512) q[HUGE + i] = pattern(5, i);
    if (close(fd) != 0 || munmap((void *)p, 2 * HUGE) != 0) _exit(3);
    if (write(ready, "r", 1) != 1) _exit(4);
    close(ready);
    while (!check) pause();
    if (!hugetlb_area(q)) _exit(5);
    for (int i = 0; i < HUGE; i += 512)
        if (q[HUGE + i] != pattern(5, i)) _exit(6);
    if (q[7] != 0x5a) _exit(7);
    _exit(0);
}

int main(int argc, char **argv) {
    int private = argc > 1 && strcmp(argv[1], "private") == 0;
    int childprivate = argc > 1 && strcmp(argv[1], "childprivate") == 0;
    pid_t holder = 0;
    volatile unsigned char *q = NULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int fd = memfd_create("cryo-hugememfd", MFD_HUGETLB | MFD_ALLOW_SEALING);
    if (fd < 0 || ftruncate(fd, 3 * HUGE) != 0) fail("memfd_create(MFD_HUGETLB) or ftruncate");
    volatile unsigned char *p = mmap(NULL, 2 * HUGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    unsigned char *third = mmap(NULL, HUGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 2 * HUGE);
    if (p == MAP_FAILED || third == MAP_FAILED) fail("mmap");
    for (int i = 0; i < HUGE; i += 512) p[i] = pattern(0, i), third[i] = pattern(2, i);
    munmap(third, HUGE);
    pid_t writer = fork();
    if (writer == 0) {
        for (int i = 0; i < HUGE; i += 512) p[HUGE + i] = pattern(1, i);
        _exit(0);
    }
    if (writer < 0 || waitpid(writer, NULL, 0) != writer) fail("the second page's writer");
    if (private) {
        q = mmap(NULL, 2 * HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        if (q == MAP_FAILED) fail("mmap private");
        if (q[0] != pattern(0, 0)) fail("the private mapping does not show the memfd");
        for (int i = 0; i < HUGE; i += 512) q[HUGE + i] = pattern(5, i);
    }
    if (childprivate) {
        int ready[2];
        char c;
        if (pipe(ready) != 0) fail("pipe");
        holder = fork();
        if (holder == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives the test's kill of its parent */
            close(ready[0]);
            private_child(fd, p, ready[1]);
        }
        close(ready[1]);
        if (holder < 0 || read(ready[0], &c, 1) != 1) fail("the child mapping the memfd privately");
        close(ready[0]);
    }
    if (fcntl(fd, F_ADD_SEALS, SEALS) != 0) fail("F_ADD_SEALS");
    printf("ready\n");
    while (!check) pause();
    if (!hugetlb_area(p)) fail("the mapping is no longer hugetlb memory in 2 MiB pages");
    for (int i = 0; i < HUGE; i += 512) {
        unsigned char b = 0;
        if (p[i] != pattern(0, i)) fail("the first page changed");
        if (p[HUGE + i] != pattern(1, i)) fail("the page only an exited child wrote changed");
        if (pread(fd, &b, 1, 2 * HUGE + i) != 1 || b != pattern(2, i)) fail("the page only the fd holds changed");
    }
    if (fcntl(fd, F_GET_SEALS) != SEALS) fail("the seals changed");
    struct statfs fs;
    char link[64], target[256];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    target[n < 0 ? 0 : n] = 0;
    if (strcmp(target, "/memfd:cryo-hugememfd (deleted)") != 0) fail("the fd is no longer the memfd of that name");
    if (fstatfs(fd, &fs) != 0 || fs.f_type != 0x958458f6 || fs.f_bsize != HUGE) fail("the memfd is no longer of 2 MiB huge pages");
    p[7] = 0x5a;
    unsigned char b = 0;
    if (pread(fd, &b, 1, 7) != 1 || b != 0x5a) fail("a write through the mapping does not read back through the fd");
    if (private) {
        if (!hugetlb_area(q)) fail("the private mapping is no longer hugetlb memory in 2 MiB pages");
        for (int i = 0; i < HUGE; i += 512)
            if (q[HUGE + i] != pattern(5, i)) fail("the private mapping's copied page changed");
        if (q[7] != 0x5a) fail("the private mapping's untouched page no longer follows the memfd");
    }
    if (childprivate) {
        int st = 0;
        if (kill(holder, SIGUSR2) != 0 || waitpid(holder, &st, 0) != holder) fail("the private child is gone");
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            printf("FAIL: the child's private mapping (status %#x: 5 not hugetlb, 6 copied page, 7 untouched page)\n", st);
            return 1;
        }
    }
    printf("PASS\n");
    return 0;
}
