/*
 * guards — guard pages (madvise MADV_GUARD_INSTALL, Linux 6.13+; glibc 2.42 guards thread stacks
 * with them), zdtm's maps12. Ten anonymous pages in one mapping, each filled with its own byte;
 * pages 1-2 and 6 become guard pages (their contents are dropped, any access faults), page 8
 * also gets MADV_WIPEONFORK. The pagemap shows a guard page as swapped, so a dump that copied it
 * failed (EFAULT). Prints "ready" and waits.
 *
 * Shared mappings too (Linux 6.15+ guards them): four pages of shared anonymous memory and, with a
 * directory as argument, four pages of a file there mapped shared, each with a guard on page 2 that
 * was never written. Their pages are found in the object, not in the page table that alone shows the
 * guard, and the guards were lost at restore. A second argument "data" writes the shared anonymous
 * page 2 before its guard: data no copy can read through that mapping (refused).
 *
 * On SIGUSR2 checks: writing to each guard page still faults (SIGSEGV caught with siglongjmp),
 * every other page still holds its byte and can be written, and the guards are still there in a
 * forked child. Prints "PASS" or "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#define PAGES 10
#define PG 4096

static char *base;
static sigjmp_buf jump;
static volatile sig_atomic_t armed;

static void on_segv(int sig) {
    (void)sig;
    if (armed)
        siglongjmp(jump, 1);
    _exit(3);
}

static char *shared[2]; /* shared anonymous memory, a shared file mapping (or NULL) */

static int guarded(int i) { return i == 1 || i == 2 || i == 6; }

/* 1 when writing the page at p faulted */
static int faults_at(char *p) {
    armed = 1;
    if (sigsetjmp(jump, 1)) {
        armed = 0;
        return 1;
    }
    *(volatile char *)p = 'x';
    armed = 0;
    return 0;
}

static int faults(int i) { return faults_at(base + i * PG); }

/* pages 0, 1 and 3 hold 'A' + page, page 2 is a guard page never written */
static char *shared_area(int fd, int data) {
    char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, fd < 0 ? MAP_SHARED | MAP_ANONYMOUS : MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) fail("mmap shared");
    for (int i = 0; i < 4; i++)
        if (i != 2 || data) memset(p + i * PG, 'A' + i, PG);
    if (madvise(p + 2 * PG, PG, MADV_GUARD_INSTALL)) fail("MADV_GUARD_INSTALL shared");
    return p;
}

static const char *check_shared(void) {
    for (int k = 0; k < 2; k++) {
        if (shared[k] == NULL) continue;
        if (!faults_at(shared[k] + 2 * PG))
            return k ? "a shared file's guard page can be written" : "a shared guard page can be written";
        for (int i = 0; i < 4; i++)
            if (i != 2 && shared[k][i * PG + 9] != 'A' + i)
                return k ? "a shared file's page lost its bytes" : "a shared page lost its bytes";
    }
    return NULL;
}

static const char *check_pages(void) {
    for (int i = 0; i < PAGES; i++) {
        if (guarded(i)) {
            if (!faults(i))
                return "a guard page can be written";
        } else if (base[i * PG] != 'a' + i || base[i * PG + PG - 1] != 'a' + i) {
            return "a page lost its bytes";
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_segv;
    sa.sa_flags = SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    base = mmap(NULL, PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) fail("mmap");
    for (int i = 0; i < PAGES; i++)
        memset(base + i * PG, 'a' + i, PG);
    if (madvise(base + PG, 2 * PG, MADV_GUARD_INSTALL) || madvise(base + 6 * PG, PG, MADV_GUARD_INSTALL))
        fail("MADV_GUARD_INSTALL");
    if (madvise(base + 8 * PG, PG, MADV_WIPEONFORK)) fail("MADV_WIPEONFORK");
    shared[0] = shared_area(-1, argc > 2 && strcmp(argv[2], "data") == 0);
    if (argc > 1) {
        char path[4096];
        snprintf(path, sizeof path, "%s/guarded", argv[1]);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || ftruncate(fd, 4 * PG)) fail("guarded file");
        shared[1] = shared_area(fd, 0);
        close(fd);
    }
    const char *bad = check_pages();
    if (!bad) bad = check_shared();
    if (bad) fail(bad);
    printf("ready\n");
    while (!check) pause();

    bad = check_pages();
    if (!bad) bad = check_shared();
    if (bad) {
        printf("FAIL: after the restore, %s\n", bad);
        return 1;
    }
    pid_t child = fork();
    if (child == 0) {
        for (int i = 0; i < PAGES; i++)
            if (guarded(i) && !faults(i)) _exit(1);
        _exit(base[8 * PG] == 0 ? 0 : 2); /* wiped on fork */
    }
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("FAIL: in a child forked after the restore (status 0x%x)\n", status);
        return 1;
    }
    for (int i = 0; i < PAGES; i++)
        if (!guarded(i)) base[i * PG + 7] = 'w';
    printf("PASS\n");
    return 0;
}
