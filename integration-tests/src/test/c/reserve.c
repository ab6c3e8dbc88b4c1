/*
 * reserve — an address-space reservation as V8 and PartitionAlloc keep one: 64 GiB mapped PROT_NONE
 * (MAP_NORESERVE), of which two 1 MiB chunks take turns being committed (mprotect read-write, filled
 * with a pattern) and decommitted (MADV_DONTNEED, PROT_NONE again), every few milliseconds, while it
 * is checkpointed with pre-copy.
 *
 * Prints "ready", then keeps flipping. On SIGUSR2 it stops between two flips and checks that the
 * committed chunk holds its last pattern and the other one reads back zero once opened again;
 * prints "PASS flips=N" (exit 0) or "FAIL: <reason>" (exit 1).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define GIB (1UL << 30)
#define CHUNK (1UL << 20)

static volatile sig_atomic_t check_requested;

static void on_usr2(int sig) { (void)sig; check_requested = 1; }

static uint8_t *chunk(uint8_t *base, int which) { return base + 16 * GIB + (unsigned long)which * 8 * GIB; }

static void fill(uint64_t *w, unsigned long flip)
{
    for (size_t i = 0; i < CHUNK / 8; i++)
        w[i] = flip * 0x9E3779B97F4A7C15ULL + i;
}

int main(void)
{
    uint8_t *base = mmap(NULL, 64 * GIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) { perror("mmap"); return 2; }
    signal(SIGUSR2, on_usr2);
    unsigned long flip = 0;
    mprotect(chunk(base, 0), CHUNK, PROT_READ | PROT_WRITE);
    fill((uint64_t *)chunk(base, 0), flip);
    printf("ready\n");
    fflush(stdout);
    while (!check_requested) {
        int from = flip % 2, to = 1 - from;
        flip++;
        mprotect(chunk(base, to), CHUNK, PROT_READ | PROT_WRITE);
        fill((uint64_t *)chunk(base, to), flip);
        madvise(chunk(base, from), CHUNK, MADV_DONTNEED);
        mprotect(chunk(base, from), CHUNK, PROT_NONE);
        struct timespec ts = { 0, 3 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    int live = flip % 2;
    uint64_t *w = (uint64_t *)chunk(base, live);
    for (size_t i = 0; i < CHUNK / 8; i++) {
        if (w[i] != flip * 0x9E3779B97F4A7C15ULL + i) {
            printf("FAIL: the committed chunk holds %#lx at word %zu, not its pattern of flip %lu\n",
                   (unsigned long)w[i], i, flip);
            return 1;
        }
    }
    mprotect(chunk(base, 1 - live), CHUNK, PROT_READ);
    uint64_t *z = (uint64_t *)chunk(base, 1 - live);
    for (size_t i = 0; i < CHUNK / 8; i++) {
        if (z[i]) {
            printf("FAIL: the decommitted chunk reads %#lx at word %zu, not zero\n", (unsigned long)z[i], i);
            return 1;
        }
    }
    printf("PASS flips=%lu\n", flip);
    fflush(stdout);
    return 0;
}
