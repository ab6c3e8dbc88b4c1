/*
 * A 32 MiB area whose pieces are mapped again without pause (mmap MAP_FIXED at a random page, 1 to
 * 64 pages, read-write, read-only or no access) and written: the new read-write pages get tokens, and
 * so do random read-write pages elsewhere. A table in a mapping of its own holds what each page's
 * first word must read (0 after a remap, the last token written). A pre-copy's rounds meet mappings
 * split and replaced between reading the maps and scanning them (CRIU's zdtm transition/maps007).
 * Prints "ready" after the first thousand remaps. On SIGUSR2 stops and checks every readable page
 * against the table; prints "PASS remaps=<n>" or "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/mman.h>
#include "workload.h"

#define PAGE 4096UL
#define PAGES 8192UL

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(void) {
    static const int prots[] = {PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE, PROT_READ, PROT_NONE};
    char *area = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint64_t *want = mmap(NULL, PAGES * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *prot = mmap(NULL, PAGES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint64_t token = 0, remaps = 0;
    if (area == MAP_FAILED || want == MAP_FAILED || prot == MAP_FAILED)
        fail("mmap");
    signal(SIGUSR2, on_usr2);
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (unsigned long i = 0; i < PAGES; i++) {
        prot[i] = PROT_READ | PROT_WRITE;
        want[i] = *(uint64_t *)(area + i * PAGE) = ++token;
    }
    while (!check) {
        unsigned long p = next() % PAGES, n = 1 + next() % 64;
        int pr = prots[next() % 4];
        if (p + n > PAGES)
            n = PAGES - p;
        if (mmap(area + p * PAGE, n * PAGE, pr, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
            fail("mmap MAP_FIXED");
        for (unsigned long i = p; i < p + n; i++) {
            prot[i] = pr;
            want[i] = 0;
        }
        for (int k = 0; k < 8; k++) {
            unsigned long q = k < 4 ? p + next() % n : next() % PAGES;
            if (prot[q] == (PROT_READ | PROT_WRITE))
                want[q] = *(uint64_t *)(area + q * PAGE) = ++token;
        }
        if (++remaps == 1000)
            printf("ready\n");
    }
    for (unsigned long i = 0; i < PAGES; i++) {
        if ((prot[i] & PROT_READ) && *(uint64_t *)(area + i * PAGE) != want[i]) {
            printf("FAIL: page %lu reads %llu, last written %llu (%llu remaps)\n", i,
                   (unsigned long long)*(uint64_t *)(area + i * PAGE), (unsigned long long)want[i],
                   (unsigned long long)remaps);
            return 1;
        }
    }
    printf("PASS remaps=%llu\n", (unsigned long long)remaps);
    return 0;
}
