/*
 * quietdrops — a mostly idle area whose pages change one at a time, slowly, while pre-copy rounds
 * run: the frozen round finds those changes without reading every page's categories.
 *
 * Usage: quietdrops [size-MiB]      (default 128)
 *
 * Maps size-MiB of private anonymous memory and a second area of an eighth of that, fills page i of
 * each with words derived from i, prints "ready", then changes one page every ms, in turn:
 *  - in the first seven eighths of the area, drops a page and reads it (the zero page is mapped: a
 *    round write-protects it again without carrying it, and a copy a round made before must not
 *    come back); these pages are 64 apart, taken in address order (and one further on each pass),
 *    so that the pages changed last, which the frozen round looks at closely with what lies within
 *    256 pages, do not cover the ones changed long before;
 *  - in the last eighth, drops a page and leaves it empty, or writes it anew;
 *  - in the second area, makes a page a guard page (MADV_GUARD_INSTALL, when the kernel has it: an
 *    area that had one is looked at whole).
 * What became of each page is noted on the heap. On SIGUSR2 it stops and checks every page of
 * both areas: "PASS pages=N changed=C" (exit 0) or "FAIL: <reason>" (exit 1).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#define PAGE 4096UL
#define WORDS (PAGE / sizeof(uint64_t))

enum { ORIGINAL, ZERO_READ, DROPPED, REWRITTEN, GUARD };

static sigjmp_buf jump;
static volatile sig_atomic_t probing;

static void on_segv(int sig) {
    (void)sig;
    if (probing)
        siglongjmp(jump, 1);
    _exit(3);
}

static uint64_t word(size_t page, size_t w, uint64_t gen) {
    return (page + 1) * 0x9E3779B97F4A7C15ULL ^ (w * 0xBF58476D1CE4E5B9ULL) ^ gen;
}

static void fill(char *p, size_t page, uint64_t gen) {
    for (size_t w = 0; w < WORDS; w++)
        ((uint64_t *)p)[w] = word(page, w, gen);
}

static int faults(volatile char *p) {
    probing = 1;
    if (sigsetjmp(jump, 1)) {
        probing = 0;
        return 1;
    }
    (void)*p;
    probing = 0;
    return 0;
}

/* The page as noted: 0 when it is, else prints why not and returns 1. */
static int wrong(const char *area, char *p, size_t i, int state) {
    if (faults(p) != (state == GUARD)) {
        printf("FAIL: %s page %zu (state %d) %s\n", area, i, state, state == GUARD ? "can be read" : "faults");
        return 1;
    }
    for (size_t w = 0; state != GUARD && w < WORDS; w++) {
        uint64_t want = state == ZERO_READ || state == DROPPED ? 0 : word(i, w, state == REWRITTEN);
        uint64_t got = ((uint64_t *)p)[w];
        if (got != want) {
            printf("FAIL: %s page %zu (state %d) word %zu is %016llx, not %016llx\n", area, i, state, w,
                   (unsigned long long)got, (unsigned long long)want);
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 128;
    size_t pages = mib * 256, fenced = pages / 8, quiet = pages - pages / 8;
    char *area = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    /* executable too: it never merges with the area */
    char *fence = mmap(NULL, fenced * PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *state = calloc(pages, 1), *fstate = calloc(fenced, 1);
    if (area == MAP_FAILED || fence == MAP_FAILED || !state || !fstate) fail("mmap");
    madvise(area, pages * PAGE, MADV_NOHUGEPAGE); /* page by page, as the rounds see them */
    madvise(fence, fenced * PAGE, MADV_NOHUGEPAGE);
    for (size_t i = 0; i < pages; i++)
        fill(area + i * PAGE, i, 0);
    for (size_t i = 0; i < fenced; i++)
        fill(fence + i * PAGE, i, 0);
    signal(SIGUSR2, on_usr2);
    signal(SIGSEGV, on_segv);
    printf("ready\n");
    fflush(stdout);

    size_t tick = 0, z = 0, d = 0, g = 0, changed = 0;
    int guards = 1;
    struct timespec pause = {0, 1000000};
    while (!check) {
        if (tick % 4 == 0 || tick % 4 == 2) {
            size_t k = (z % (quiet / 64)) * 64 + 7 + z / (quiet / 64);
            if (k < quiet && state[k] == ORIGINAL) {
                madvise(area + k * PAGE, PAGE, MADV_DONTNEED);
                (void)*(volatile char *)(area + k * PAGE);
                state[k] = ZERO_READ;
                changed++;
            }
            z++;
        } else if (tick % 4 == 1) {
            size_t k = quiet + (d * 3) % (pages - quiet);
            if (state[k] == ORIGINAL) {
                if (d % 2) {
                    madvise(area + k * PAGE, PAGE, MADV_DONTNEED);
                    state[k] = DROPPED;
                } else {
                    fill(area + k * PAGE, k, 1);
                    state[k] = REWRITTEN;
                }
                changed++;
            }
            d++;
        } else if (guards) {
            size_t k = (g * 5) % fenced;
            if (fstate[k] == ORIGINAL) {
                if (madvise(fence + k * PAGE, PAGE, MADV_GUARD_INSTALL) == 0) {
                    fstate[k] = GUARD;
                    changed++;
                } else {
                    guards = 0;
                }
            }
            g++;
        }
        tick++;
        nanosleep(&pause, NULL);
    }

    for (size_t i = 0; i < pages; i++)
        if (wrong("area", area + i * PAGE, i, state[i]))
            return 1;
    for (size_t i = 0; i < fenced; i++)
        if (wrong("second area", fence + i * PAGE, i, fstate[i]))
            return 1;
    printf("PASS pages=%zu changed=%zu\n", pages + fenced, changed);
    return 0;
}
