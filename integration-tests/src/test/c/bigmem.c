/*
 * bigmem — large anonymous memory workload (zdtm style).
 *
 * Usage: bigmem [size-MiB]      (default 1024)
 *
 * Maps size-MiB of private anonymous memory and gives every 4 KiB page one
 * of three roles, chosen by its index:
 *   index % 16 == 7   never touched: must read back as zero (a dumper may
 *                     skip it, the restorer must not invent content);
 *   index % 16 == 11  explicitly written with zeros: present but zero;
 *   otherwise         512 64-bit words from a xorshift64 generator seeded
 *                     by the page index, so any page can be recomputed.
 * Prints "ready <checksum>" (16 hex digits), then just waits.
 * On SIGUSR2 it verifies every page against its role, recomputes the
 * checksum and prints "PASS checksum=<checksum>" (exit 0) or
 * "FAIL: <reason>" (exit 1).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pagewords.h"


enum role { PATTERN, UNTOUCHED, ZEROED };

static enum role role_of(size_t page)
{
    switch (page % 16) {
    case 7:  return UNTOUCHED;
    case 11: return ZEROED;
    default: return PATTERN;
    }
}

/* Seed never 0 (xorshift would stay at 0); mixed so neighbours differ. */
static uint64_t seed_of(size_t page)
{
    return (page + 1) * 0x9E3779B97F4A7C15ULL;
}

static void fill_page(uint64_t *w, size_t page)
{
    fill_words(w, seed_of(page));
}

/* Returns the first differing word index, or -1. */
static long verify_page(const uint64_t *w, size_t page)
{
    return role_of(page) != PATTERN ? first_nonzero(w) : first_difference(w, seed_of(page));
}

/* FNV-1a style fold over 64-bit words: order sensitive, cheap. */
static uint64_t checksum(const uint64_t *w, size_t nwords)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < nwords; i++)
        h = (h ^ w[i]) * 0x100000001b3ULL;
    return h;
}

static volatile sig_atomic_t check_requested;
static void on_usr2(int sig) { (void)sig; check_requested = 1; }

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    long mib = 1024;
    if (argc > 2 || (argc == 2 && (mib = strtol(argv[1], NULL, 10)) <= 0)) {
        fprintf(stderr, "usage: %s [size-MiB>0]\n", argv[0]);
        return 2;
    }
    size_t len = (size_t)mib << 20, npages = len / PAGE;

    /* Block SIGUSR2 until we wait for it, so an early signal is not lost
     * and cannot interrupt the fill. */
    sigset_t usr2, old;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    sigprocmask(SIG_BLOCK, &usr2, &old);
    struct sigaction sa = { 0 };
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);

    uint64_t *mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        printf("FAIL: mmap %ld MiB failed\n", mib);
        return 1;
    }
    for (size_t p = 0; p < npages; p++) {
        uint64_t *w = mem + p * WORDS;
        if (role_of(p) == PATTERN)
            fill_page(w, p);
        else if (role_of(p) == ZEROED)
            memset(w, 0, PAGE);
    }
    uint64_t sum = checksum(mem, len / sizeof(uint64_t));
    printf("ready %016llx\n", (unsigned long long)sum);

    while (!check_requested)
        sigsuspend(&old);

    long bad = 0, first_bad = -1, first_word = -1;
    for (size_t p = 0; p < npages; p++) {
        long w = verify_page(mem + p * WORDS, p);
        if (w >= 0) {
            if (!bad++) {
                first_bad = (long)p;
                first_word = w;
            }
        }
    }
    uint64_t sum2 = checksum(mem, len / sizeof(uint64_t));
    munmap(mem, len);

    if (bad) {
        printf("FAIL: %ld of %zu pages wrong, first page %ld word %ld\n",
               bad, npages, first_bad, first_word);
        return 1;
    }
    if (sum2 != sum) {
        printf("FAIL: checksum %016llx, expected %016llx\n",
               (unsigned long long)sum2, (unsigned long long)sum);
        return 1;
    }
    printf("PASS checksum=%016llx\n", (unsigned long long)sum);
    return 0;
}
