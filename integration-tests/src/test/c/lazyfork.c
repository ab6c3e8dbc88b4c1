/*
 * A program that forks after a lazy restore, its child reading pages not in yet: the test kills cryo (-9)
 * while pages still come, and nothing may run on reading zeros where its pages were.
 * Area A (argv[2] MiB) holds in each page its index. Once the file named by argv[1] exists (the test makes it
 * after the dump, so that no dump catches a child), the main thread forks one child, which prints "child PID"
 * and reads random pages of A for up to a minute, printing "FAIL: pid N read other bytes at page I" on a wrong
 * one (and going on); the main thread reads random pages too, or with argv[3] "exits" exits once the child
 * runs (the child is left an orphan). Prints "ready"; on SIGUSR2 prints PASS or FAIL.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "workload.h"

#define PAGE 4096L

static unsigned char *A;
static long pages;

static unsigned long rnd(unsigned long *s) {
    *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
    return *s;
}

/* the page that holds something other than its index, or -1 */
static long readA(unsigned long *s, int n) {
    for (int k = 0; k < n; k++) {
        long i = rnd(s) % pages;
        const long *w = (const long *)(A + i * PAGE);
        if (w[0] != i + 1 || w[PAGE / 8 - 1] != i + 1) return i;
    }
    return -1;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 4) fail("usage: lazyfork FORK_FLAG_FILE MIB stays|exits");
    int exits = strcmp(argv[3], "exits") == 0;
    pages = atol(argv[2]) * 256;
    signal(SIGUSR2, on_usr2);
    A = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (A == MAP_FAILED) fail("mmap");
    for (long i = 0; i < pages; i++) {
        long *w = (long *)(A + i * PAGE);
        w[0] = w[PAGE / 8 - 1] = i + 1;
    }
    unsigned long s = 2463534242UL;
    int forked = 0;
    long wrong = -1;
    printf("ready\n");
    while (!check) {
        if (!forked && access(argv[1], F_OK) == 0) {
            forked = 1;
            pid_t c = fork();
            if (c < 0) fail("fork");
            if (c == 0) {
                unsigned long cs = s + getpid();
                printf("child %d\n", getpid());
                for (int r = 0; r < 60000; r++) {
                    long i = readA(&cs, 16);
                    if (i >= 0) printf("FAIL: pid %d read other bytes at page %ld\n", getpid(), i);
                    usleep(1000);
                }
                _exit(0);
            }
            if (exits) _exit(0);
        }
        long i = readA(&s, 16);
        if (i >= 0 && wrong < 0) wrong = i;
        usleep(1000);
    }
    if (wrong >= 0) {
        printf("FAIL: page %ld held other bytes\n", wrong);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
