/*
 * A child grows two mappings page by page with mremap(MREMAP_MAYMOVE) and shrinks them back to one
 * page, all the time (CRIU's zdtm transition/shmem): a shared anonymous one, which its parent also
 * maps whole, and a private one of its own. Each step writes a token into the last page and notes it
 * in a table (the shared mapping's table is shared, so the parent checks it through its own mapping).
 * A tracking that registers part of a mapping splits it in two, and the next mremap over the whole
 * mapping fails with EFAULT: the child stops at the first mremap that fails and reports it.
 * Prints "ready" once the child has gone round both sizes twice. On SIGUSR2 the child stops and
 * checks its private pages, the parent checks the shared ones; prints "PASS steps=<n>" or "FAIL: ...".
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "workload.h"

#define PAGE 4096UL
#define PAGES 2048UL

struct result {
    volatile uint64_t steps, laps;
    volatile int failed;
    char why[200];
};

/* Grows (or shrinks to one page) mapping *at of *pages pages by one step and writes its last page. */
static int step(char **at, unsigned long *pages, uint64_t *want, uint64_t token, const char *what, struct result *r) {
    unsigned long to = *pages == PAGES ? 1 : *pages + 1;
    char *moved = mremap(*at, *pages * PAGE, to * PAGE, MREMAP_MAYMOVE);
    if (moved == MAP_FAILED) {
        snprintf(r->why, sizeof r->why, "mremap of the %s mapping %p from %lu to %lu pages: %s", what, (void *)*at,
                 *pages, to, strerror(errno));
        return -1;
    }
    *at = moved;
    *pages = to;
    *(uint64_t *)(moved + (to - 1) * PAGE) = token;
    want[to - 1] = token;
    return 0;
}

int main(void) {
    struct result *r = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    char *shared = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    uint64_t *sharedWant = mmap(NULL, PAGES * 8, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED || shared == MAP_FAILED || sharedWant == MAP_FAILED)
        fail("mmap");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    pid_t parent = getpid(), child = fork();
    if (child < 0)
        fail("fork");
    if (child == 0) {
        char *own = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        uint64_t *ownWant = calloc(PAGES, 8);
        unsigned long sharedPages = PAGES, ownPages = PAGES;
        uint64_t token = 0;
        if (own == MAP_FAILED || !ownWant)
            _exit(2);
        while (!check) {
            if (step(&shared, &sharedPages, sharedWant, ++token, "shared", r)
                || step(&own, &ownPages, ownWant, ++token, "private", r)) {
                r->failed = 1;
                _exit(1);
            }
            if ((++r->steps & 1023) == 0 && getppid() != parent)
                _exit(4); /* the parent was killed: a test that gave up */
            if (sharedPages == 1)
                r->laps++;
        }
        for (unsigned long i = 0; i < ownPages; i++) {
            if (*(uint64_t *)(own + i * PAGE) != ownWant[i]) {
                snprintf(r->why, sizeof r->why, "private page %lu reads %llu, last written %llu", i,
                         (unsigned long long)*(uint64_t *)(own + i * PAGE), (unsigned long long)ownWant[i]);
                _exit(1);
            }
        }
        _exit(0);
    }
    while (r->laps < 2 && !r->failed)
        usleep(1000);
    printf("ready\n");
    while (!check)
        usleep(10000);
    kill(child, SIGUSR2);
    int status;
    if (waitpid(child, &status, 0) != child)
        fail("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("FAIL: the child ended with status 0x%x after %llu steps: %s\n", status, (unsigned long long)r->steps,
               r->why);
        return 1;
    }
    for (unsigned long i = 0; i < PAGES; i++) {
        if (*(uint64_t *)(shared + i * PAGE) != sharedWant[i]) {
            printf("FAIL: shared page %lu reads %llu, last written %llu\n", i,
                   (unsigned long long)*(uint64_t *)(shared + i * PAGE), (unsigned long long)sharedWant[i]);
            return 1;
        }
    }
    printf("PASS steps=%llu\n", (unsigned long long)r->steps);
    return 0;
}
