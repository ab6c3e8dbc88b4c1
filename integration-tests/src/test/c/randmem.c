/*
 * randmem — N MiB of random bytes in private anonymous memory, every page present and non-zero:
 * the benchmark's workload (the same shape CRIU's figures in issue 11 were taken with).
 *
 * Usage: randmem [size-MiB]      (default 256)
 *
 * Fills the area from a xorshift64 generator, prints "ready <checksum>", then waits. On SIGUSR2
 * it recomputes the checksum and prints "PASS" (exit 0) or "FAIL: <reason>" (exit 1).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile sig_atomic_t check;

static void on_usr2(int sig)
{
    (void)sig;
    check = 1;
}

static uint64_t sum(const uint64_t *w, size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s = (s ^ w[i]) * 0x100000001B3ULL;
    return s;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
    size_t n = mib * 1024 * 1024 / sizeof(uint64_t);
    uint64_t *w = mmap(NULL, n * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (w == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    uint64_t x = 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid();
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        w[i] = x | 1; /* never a zero word: no zero page */
    }
    uint64_t want = sum(w, n);
    signal(SIGUSR2, on_usr2);
    printf("ready %016llx\n", (unsigned long long)want);
    fflush(stdout);
    while (!check)
        pause();
    uint64_t got = sum(w, n);
    if (got != want) {
        printf("FAIL: checksum %016llx, expected %016llx\n", (unsigned long long)got, (unsigned long long)want);
        return 1;
    }
    printf("PASS checksum=%016llx\n", (unsigned long long)got);
    return 0;
}
