/*
 * firsttouch — writes pages of a read-write area for the first time while it is pre-copied: memory a
 * task has mapped but not touched yet (a heap growing into its arena, a reservation mapped read-write
 * and left to fault in, as ASan's shadow or a runtime's MAP_NORESERVE heap).
 *
 * Usage: firsttouch [MIB [RESERVE_GIB]]   (64 MiB, 64 GiB by default)
 *
 * Maps MIB MiB and RESERVE_GIB GiB (MAP_NORESERVE) read-write and touches neither before "ready".
 * Then touches one page of the area after another (a pattern of the page and the pass), one page
 * of the reservation (a GiB apart) every 64 pages, a little at a time; after the last page it drops
 * the whole area (MADV_DONTNEED: absent again, its ptes empty) and starts another pass.
 * On SIGUSR2 it stops between two pages and checks that each page it touched in this pass holds its
 * pattern and every other page of the area reads zero, and the reservation's pages alike; prints
 * "PASS pass=N pages=M" or "FAIL: reason".
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "workload.h"

#define PAGE 4096UL
#define GIB (1UL << 30)

static uint8_t *area, *reserve;
static size_t pages, reserve_gib;

static void put(uint8_t *at, uint64_t page, uint64_t pass) {
    uint64_t w[2] = {page, pass};
    memset(at, (int)(page * 131 + pass), PAGE);
    memcpy(at, w, sizeof w);
}

static int holds(const uint8_t *at, uint64_t page, uint64_t pass) {
    uint64_t w[2];
    memcpy(w, at, sizeof w);
    if (w[0] != page || w[1] != pass) return 0;
    for (size_t i = sizeof w; i < PAGE; i++)
        if (at[i] != (uint8_t)(page * 131 + pass)) return 0;
    return 1;
}

static int zero(const uint8_t *at) {
    for (size_t i = 0; i < PAGE; i++)
        if (at[i]) return 0;
    return 1;
}

/* The reservation's k-th page: a GiB apart, each first touched in a pass. */
static uint8_t *reserved(size_t k) { return reserve + (k % reserve_gib) * GIB + (k / reserve_gib) * PAGE; }

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
    reserve_gib = argc > 2 ? strtoul(argv[2], NULL, 10) : 64;
    if (mib < 1 || reserve_gib < 1) fail("usage: firsttouch [MIB [RESERVE_GIB]]");
    pages = mib * 256;
    signal(SIGUSR2, on_usr2);
    area = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    reserve = mmap(NULL, reserve_gib * GIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (area == MAP_FAILED || reserve == MAP_FAILED) fail("mmap");
    printf("ready\n");
    uint64_t pass = 1;
    size_t next = 0; /* pages of the area touched in this pass */
    size_t reserved_touched = 0;
    while (!check) {
        for (int i = 0; i < 16 && next < pages; i++, next++) {
            put(area + next * PAGE, next, pass);
            if (next % 64 == 0 && reserved_touched < pages / 64) {
                put(reserved(reserved_touched), reserved_touched, 1);
                reserved_touched++;
            }
        }
        if (next == pages) {
            if (madvise(area, pages * PAGE, MADV_DONTNEED)) fail("madvise");
            next = 0;
            pass++;
        }
        struct timespec ts = {0, 2 * 1000 * 1000}; /* 16 pages every 2 ms: 32 MiB/s at most */
        nanosleep(&ts, NULL);
    }
    for (size_t p = 0; p < pages; p++) {
        if (p < next ? !holds(area + p * PAGE, p, pass) : !zero(area + p * PAGE)) {
            printf("FAIL: page %zu of the area (pass %lu, %zu touched in it) %s\n", p, (unsigned long)pass, next,
                   p < next ? "lost its bytes" : "is not zero");
            return 1;
        }
    }
    for (size_t k = 0; k < reserved_touched; k++)
        if (!holds(reserved(k), k, 1)) {
            printf("FAIL: page %zu of the reservation lost its bytes\n", k);
            return 1;
        }
    if (!zero(reserved(reserved_touched))) {
        printf("FAIL: the reservation's next page is not zero\n");
        return 1;
    }
    printf("PASS pass=%lu pages=%zu\n", (unsigned long)pass, next);
    return 0;
}
