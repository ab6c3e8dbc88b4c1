/*
 * fillbytes — pages that each hold one byte repeated (issue 10: Ruby's YJIT fills its 256 MiB code
 * area so, and its images were 256 MiB). Holds, in one anonymous mapping: 64 MiB of 0xcc, pages of
 * other bytes (0x00 written over data, 0xff, 0x90) beside pages of data, a read-only page of 0x90,
 * and in a private mapping of a file of 'f' bytes (argv[1]) a page rewritten as zeros (the file's
 * bytes lie under it: zero is not implicit there). A "rewriter" area of 16 pages is rewritten
 * every millisecond while it waits (a pre-copy's rounds send its pages again and again): at each
 * generation g each page becomes either one byte (even g; zero among them) or data holding g;
 * the page's own generation must be g or g + 1 where g is the counter (a stale copy would be older).
 * Prints "ready"; on SIGUSR2 checks every page and prints PASS or "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

#define PG 4096
#define BIG (64L << 20)
#define REWRITTEN 16

static unsigned char *big, *mixed, *ro, *filemap, *rewriter;
static volatile uint64_t generation;

static int all(const unsigned char *p, unsigned char b) {
    for (int i = 0; i < PG; i++)
        if (p[i] != b) return 0;
    return 1;
}

static void data(unsigned char *p, uint64_t g, int page) {
    memcpy(p, &g, sizeof g);
    for (int i = 8; i < PG; i++) p[i] = (unsigned char)(g * 31 + (uint64_t)i * 7 + (uint64_t)page * 13);
}

/*
 * The generation the page holds, or -1 when it is neither a fill nor data: a fill of byte b is an
 * even generation g with (g / 2) % 256 == b, found among the counter's and the next (a page may be
 * rewritten ahead of the counter).
 */
static int64_t generation_of(const unsigned char *p, int page) {
    if (all(p, p[0])) {
        uint64_t now = generation;
        for (uint64_t g = now; g <= now + 1; g++)
            if (!(g & 1) && (unsigned char)((g / 2) % 256) == p[0]) return (int64_t)g;
        return -1;
    }
    uint64_t g;
    memcpy(&g, p, sizeof g);
    static unsigned char want[PG];
    data(want, g, page);
    return memcmp(want, p, PG) == 0 ? (int64_t)g : -1;
}

static void rewrite(uint64_t g) {
    for (int i = 0; i < REWRITTEN; i++) {
        unsigned char *p = rewriter + (long)i * PG;
        if (g & 1)
            data(p, g, i);
        else
            memset(p, (int)((g / 2) % 256), PG);
    }
}

static const char *check_static(void) {
    for (long i = 0; i < BIG; i += PG)
        if (!all(big + i, 0xcc)) return "a page of 0xcc changed";
    static unsigned char want[PG];
    for (int i = 0; i < 8; i++) {
        unsigned char *p = mixed + (long)i * PG;
        switch (i) {
        case 0: case 3: case 6: data(want, 1001 + i, i); if (memcmp(p, want, PG)) return "a data page changed"; break;
        case 1: if (!all(p, 0x00)) return "a page zeroed over data is not zero"; break;
        case 2: case 7: if (!all(p, 0xff)) return "a page of 0xff changed"; break;
        case 4: case 5: if (!all(p, 0x90)) return "a page of 0x90 changed"; break;
        }
    }
    if (!all(ro, 0x90)) return "the read-only page of 0x90 changed";
    if (!all(filemap, 0x00)) return "the file mapping's zeroed page is not zero";
    if (!all(filemap + PG, 'f')) return "the file mapping's untouched page is not the file's";
    return NULL;
}

static const char *check_rewriter(void) {
    uint64_t now = generation;
    for (int i = 0; i < REWRITTEN; i++) {
        int64_t g = generation_of(rewriter + (long)i * PG, i);
        if (g < 0 || (uint64_t)g < now || (uint64_t)g > now + 1) {
            static char why[128];
            snprintf(why, sizeof why, "rewritten page %d is of generation %lld, the counter says %llu", i,
                     (long long)g, (unsigned long long)now);
            return why;
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) fail("usage: fillbytes DIR");
    signal(SIGUSR2, on_usr2);
    big = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mixed = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ro = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    rewriter = mmap(NULL, REWRITTEN * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (big == MAP_FAILED || mixed == MAP_FAILED || ro == MAP_FAILED || rewriter == MAP_FAILED) fail("mmap");
    memset(big, 0xcc, BIG);
    for (int i = 0; i < 8; i++) data(mixed + (long)i * PG, 1001 + i, i);
    memset(mixed + 1 * PG, 0x00, PG);
    memset(mixed + 2 * PG, 0xff, PG);
    memset(mixed + 4 * PG, 0x90, 2 * PG);
    memset(mixed + 7 * PG, 0xff, PG);
    memset(ro, 0x90, PG);
    if (mprotect(ro, PG, PROT_READ)) fail("mprotect");

    char path[4096];
    snprintf(path, sizeof path, "%s/fillbytes.data", argv[1]);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) fail("open");
    static unsigned char fs[2 * PG];
    memset(fs, 'f', sizeof fs);
    if (write(fd, fs, sizeof fs) != (ssize_t)sizeof fs) fail("write");
    filemap = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (filemap == MAP_FAILED) fail("mmap of the file");
    close(fd);
    memset(filemap, 0, PG);

    rewrite(0);
    const char *bad = check_static();
    if (bad) fail(bad);
    printf("ready\n");
    struct timespec ms = {0, 1000000};
    while (!check) {
        rewrite(generation + 1);
        __asm__ volatile("" ::: "memory"); /* the pages are rewritten before the counter says so */
        generation = generation + 1;
        nanosleep(&ms, NULL);
    }
    if ((bad = check_static()) || (bad = check_rewriter())) {
        printf("FAIL: after the restore, %s\n", bad);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
