/*
 * The page contents memory workloads write and check after a restore: a page's 512 words come
 * from a xorshift64 generator started at a seed the workload derives from the page (and from how
 * many times it rewrote it), so a check needs the seed alone. A seed is never 0 (xorshift would
 * stay at 0).
 */
#ifndef CRYO_PAGEWORDS_H
#define CRYO_PAGEWORDS_H

#include <stddef.h>
#include <stdint.h>

#define PAGE 4096UL
#define WORDS (PAGE / sizeof(uint64_t))

static inline uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* The seed of page `page` written for the `gen`-th time: neighbours and generations differ. */
static inline uint64_t page_seed(uint64_t page, uint32_t gen)
{
    return (page + 1) * 0x9E3779B97F4A7C15ULL ^ ((uint64_t)gen << 32 | 0x5bd1e995);
}

static inline void fill_words(uint64_t *w, uint64_t seed)
{
    for (size_t i = 0; i < WORDS; i++)
        w[i] = xorshift64(&seed);
}

/* The first word of w that fill_words(w, seed) did not write, or -1. */
static inline long first_difference(const uint64_t *w, uint64_t seed)
{
    for (size_t i = 0; i < WORDS; i++)
        if (w[i] != xorshift64(&seed))
            return (long)i;
    return -1;
}

/* The first word of w that is not zero, or -1. */
static inline long first_nonzero(const uint64_t *w)
{
    for (size_t i = 0; i < WORDS; i++)
        if (w[i])
            return (long)i;
    return -1;
}

#endif
