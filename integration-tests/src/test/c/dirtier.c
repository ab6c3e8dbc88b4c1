/*
 * dirtier — keeps writing to its memory while being checkpointed (pre-copy, migration).
 *
 * Usage: dirtier [size-MiB] [write-MiB-per-s] [kernel]      (defaults 64 and 10)
 *
 * Maps size-MiB of private anonymous memory. Page i holds 512 words from a
 * xorshift64 generator seeded by (i, gen[i]); gen[] lives on the heap. The
 * main loop rewrites pages one after another (gen[i]++ then the page), at
 * about write-MiB-per-s, so the memory is never still. A few pages are left
 * untouched (must read back zero) and a few are freed with MADV_DONTNEED once
 * written (must read back zero as well). With "kernel", every other rewrite
 * lands through read(2) from a pipe, so the kernel writes the page (a
 * write-protect fault taken in kernel mode), not the program.
 * Prints "ready", then keeps writing. On SIGUSR2 it stops writing between two
 * pages, checks every page against gen[] and prints "PASS pages=N writes=W"
 * (exit 0) or "FAIL: <reason>" (exit 1).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "pagewords.h"


static volatile sig_atomic_t check_requested;

static void on_usr2(int sig) { (void)sig; check_requested = 1; }

/* page % 64 == 13: never touched; page % 64 == 29: written once, then dropped. */
static int untouched(size_t p) { return p % 64 == 13; }
static int dropped(size_t p) { return p % 64 == 29; }

static void fill(uint64_t *w, size_t page, uint32_t gen)
{
    fill_words(w, page_seed(page, gen));
}

static int check(const uint64_t *w, size_t page, uint32_t gen)
{
    return (untouched(page) || dropped(page) ? first_nonzero(w) : first_difference(w, page_seed(page, gen))) < 0;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
    double rate = argc > 2 ? strtod(argv[2], NULL) : 10;
    int by_kernel = argc > 3 && strcmp(argv[3], "kernel") == 0;
    static uint64_t staged[WORDS];
    int pp[2];
    if (by_kernel && pipe(pp) != 0) { perror("pipe"); return 2; }
    size_t pages = mib * 256;
    uint8_t *mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint32_t *gen = calloc(pages, sizeof(uint32_t));
    if (mem == MAP_FAILED || !gen) { perror("alloc"); return 2; }
    signal(SIGUSR2, on_usr2);
    for (size_t p = 0; p < pages; p++) {
        if (untouched(p)) continue;
        fill((uint64_t *)(mem + p * PAGE), p, 0);
        if (dropped(p)) madvise(mem + p * PAGE, PAGE, MADV_DONTNEED);
    }
    printf("ready\n");
    fflush(stdout);
    /* batches of 16 pages (64 KiB), paced to the rate */
    long batch_ns = rate > 0 ? (long)(64.0 / 1024.0 / rate * 1e9) : 0;
    unsigned long writes = 0;
    size_t p = 0;
    while (!check_requested) {
        for (int i = 0; i < 16 && !check_requested; i++) {
            p = (p + 7919) % pages; /* a prime stride: spread over the whole area */
            if (untouched(p)) continue;
            gen[p]++;
            if (by_kernel && writes % 2 == 0) {
                fill(staged, p, gen[p]);
                if (write(pp[1], staged, PAGE) != (ssize_t)PAGE || read(pp[0], mem + p * PAGE, PAGE) != (ssize_t)PAGE) {
                    printf("FAIL: the pipe round trip into page %zu failed: %m\n", p);
                    fflush(stdout);
                    return 1;
                }
            } else {
                fill((uint64_t *)(mem + p * PAGE), p, gen[p]);
            }
            if (dropped(p)) madvise(mem + p * PAGE, PAGE, MADV_DONTNEED);
            writes++;
        }
        struct timespec ts = { batch_ns / 1000000000L, batch_ns % 1000000000L };
        nanosleep(&ts, NULL);
    }
    for (size_t q = 0; q < pages; q++) {
        if (!check((uint64_t *)(mem + q * PAGE), q, gen[q])) {
            printf("FAIL: page %zu (gen %u) does not hold what was written\n", q, gen[q]);
            fflush(stdout);
            return 1;
        }
    }
    printf("PASS pages=%zu writes=%lu\n", pages, writes);
    fflush(stdout);
    return 0;
}
