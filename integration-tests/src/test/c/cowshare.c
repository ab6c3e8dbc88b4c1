/*
 * cowshare — a parent and forked children sharing private memory copy-on-write (zdtm cow00's rule,
 * a prefork server's preloaded heap).
 *
 * Usage: cowshare [MIB [CHILDREN [RESERVE_GIB]]]   (64 MiB, 4 children, no reservation by default)
 *
 * RESERVE_GIB: before the fork the parent also reserves that many GiB of address space twice, as
 * V8, a JVM or Go do: once PROT_NONE, once read-write but never touched (both MAP_NORESERVE).
 *
 * The parent fills MIB MiB of private anonymous memory, one pattern per page, and forks CHILDREN
 * children, which keep it. After the fork each child writes its own mark into 4 pages (its own
 * copies) and drops 8 pages with MADV_DONTNEED (they read zero for it, the parent keeps them);
 * the parent then rewrites 8 pages (its own copies; the children keep the old bytes). Every other
 * page is one frame shared by the parent and all children. Prints "ready".
 *
 * On SIGUSR2 to the parent: the parent checks its pages and sends SIGUSR2 to each child, which
 * checks its pages and that every page shared with its parent before is still one frame with the
 * parent's (PFNs of /proc/self/pagemap and /proc/PPID/pagemap, as root); the parent reaps them
 * and prints "PASS shared=N" or "FAIL: reason". Children die with the parent (PR_SET_PDEATHSIG);
 * everything exits after 900 s at the latest (alarm).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

#define PAGE 4096UL
#define MAX_CHILDREN 16

static unsigned char *area;
static size_t pages;

static unsigned char pattern(size_t page, int version) {
    return (unsigned char)(page * 131 + 7 + version * 61);
}

static void fill(size_t page, int version) {
    memset(area + page * PAGE, pattern(page, version), PAGE);
    memcpy(area + page * PAGE, &page, sizeof page);
}

static int holds(size_t page, int version) {
    size_t at;
    memcpy(&at, area + page * PAGE, sizeof at);
    if (at != page) return 0;
    for (size_t i = sizeof at; i < PAGE; i++)
        if (area[page * PAGE + i] != pattern(page, version)) return 0;
    return 1;
}

static int zero(size_t page) {
    for (size_t i = 0; i < PAGE; i++)
        if (area[page * PAGE + i]) return 0;
    return 1;
}

/* Pages each child writes, drops; pages the parent rewrites after the fork. */
static size_t written_by(int child) { return 16 + (size_t)child * 32; }
static size_t dropped_by(int child) { return 1024 + (size_t)child * 32; }
static size_t parent_rewrites(void) { return 4096; }

static int in(size_t page, size_t from, size_t n) { return page >= from && page < from + n; }

static uint64_t pfn(int fd, size_t page) {
    uint64_t e;
    off_t off = (off_t)(((uintptr_t)area / PAGE + page) * 8);
    if (pread(fd, &e, sizeof e, off) != sizeof e) return 0;
    if (!(e >> 63)) return 0; /* not present */
    return e & ((1ULL << 55) - 1);
}

static void child_check(int me) {
    const char *why = NULL;
    for (size_t p = 0; p < pages && !why; p++) {
        if (in(p, written_by(me), 4)) {
            if (!holds(p, 1 + me)) why = "a page the child wrote lost its bytes";
        } else if (in(p, dropped_by(me), 8)) {
            if (!zero(p)) why = "a page the child dropped does not read zero";
        } else if (!holds(p, 0)) {
            why = "a page the child kept from its parent lost its bytes";
        }
    }
    if (why) {
        printf("FAIL: child %d: %s\n", me, why);
        _exit(1);
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/pagemap", getppid());
    int self = open("/proc/self/pagemap", O_RDONLY), parent = open(path, O_RDONLY);
    if (self < 0 || parent < 0) {
        printf("FAIL: child %d: cannot open the pagemaps (errno %d)\n", me, errno);
        _exit(1);
    }
    size_t shared = 0, expected = 0;
    for (size_t p = 0; p < pages; p++) {
        if (in(p, written_by(me), 4) || in(p, dropped_by(me), 8) || in(p, parent_rewrites(), 8)) continue;
        expected++;
        uint64_t a = pfn(self, p), b = pfn(parent, p);
        if (a == 0) {
            printf("FAIL: child %d: page %zu is not present or its PFN is unreadable\n", me, p);
            _exit(1);
        }
        shared += a == b;
    }
    if (shared != expected) {
        printf("FAIL: child %d: %zu of %zu pages shared with its parent before are shared after\n", me, shared,
               expected);
        _exit(1);
    }
    _exit(0);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
    int n = argc > 2 ? atoi(argv[2]) : 4;
    unsigned long reserve = argc > 3 ? strtoul(argv[3], NULL, 10) << 30 : 0;
    if (mib < 32 || n < 1 || n > MAX_CHILDREN) fail("usage: cowshare [MIB>=32 [CHILDREN<=16 [RESERVE_GIB]]]");
    if (reserve && (mmap(NULL, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) == MAP_FAILED
                    || mmap(NULL, reserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
                           == MAP_FAILED))
        fail("mmap of the reservation");
    pages = mib * 256;
    alarm(900);
    signal(SIGUSR2, on_usr2);
    area = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) fail("mmap");
    for (size_t p = 0; p < pages; p++) fill(p, 0);
    pid_t kids[MAX_CHILDREN];
    int ready[2];
    if (pipe(ready)) fail("pipe");
    pid_t parent = getpid();
    for (int c = 0; c < n; c++) {
        kids[c] = fork();
        if (kids[c] < 0) fail("fork");
        if (kids[c] == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent) _exit(1);
            for (size_t p = written_by(c); p < written_by(c) + 4; p++) fill(p, 1 + c);
            if (madvise(area + dropped_by(c) * PAGE, 8 * PAGE, MADV_DONTNEED)) _exit(1);
            if (write(ready[1], "c", 1) != 1) _exit(1);
            while (!check) pause();
            child_check(c);
        }
    }
    for (int c = 0; c < n; c++) {
        char b;
        if (read(ready[0], &b, 1) != 1) fail("a child did not start");
    }
    for (size_t p = parent_rewrites(); p < parent_rewrites() + 8; p++) fill(p, 9);
    printf("ready\n");
    while (!check) pause();
    for (size_t p = 0; p < pages; p++)
        if (!holds(p, in(p, parent_rewrites(), 8) ? 9 : 0)) {
            printf("FAIL: the parent's page %zu lost its bytes\n", p);
            return 1;
        }
    int bad = 0;
    for (int c = 0; c < n; c++) {
        int st;
        kill(kids[c], SIGUSR2);
        if (waitpid(kids[c], &st, 0) != kids[c] || !WIFEXITED(st) || WEXITSTATUS(st)) bad++;
    }
    if (bad) {
        printf("FAIL: %d of %d children failed their check\n", bad, n);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
