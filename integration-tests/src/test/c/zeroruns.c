/*
 * zeroruns — data pages between zero pages, as a JVM's heap, a Go arena or calloc'd buffers hold
 * them (the zero pages are not in the image: each run of data between them is a chunk of its own,
 * tens of thousands here, written into the restored task in batches of many). Holds:
 * - "heap": 48 MiB of anonymous memory whose pages are, by a hash of their index, data (its index
 *   and a seed), zero (written as data, then zeroed: present, all zero), or never touched;
 * - "ro": 64 pages mapped PROT_READ alone, the same pattern written through /proc/self/mem (an area
 *   the restore maps without PROT_WRITE: its pages are written as a debugger writes them);
 * - "file": a private mapping of a file of 'f' bytes (argv[1]) with pages rewritten as zeros or as
 *   data between untouched ones (a zero page there hides the file's bytes: it must come back zero).
 * Prints "ready"; on SIGUSR2 checks every page, and that the heap's zero pages are not resident (a
 * restore writes no zero page of anonymous memory: fresh memory is zero already), and prints PASS or
 * "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "workload.h"

#define PG 4096
#define HEAP_PAGES 12288
#define RO_PAGES 64
#define FILE_PAGES 64

enum { DATA, ZERO, UNTOUCHED };

static int kind(long i, int salt) {
    uint64_t h = (uint64_t)(i * 2654435761u) ^ (uint64_t)salt * 40503u;
    h ^= h >> 13;
    return (int)(h % 3);
}

static void data(unsigned char *p, long i, int salt) {
    for (int j = 0; j < PG; j += 8) {
        uint64_t v = ((uint64_t)i << 32) ^ (uint64_t)j ^ (uint64_t)salt * 0x9e3779b97f4a7c15u;
        memcpy(p + j, &v, 8);
    }
}

static int is_data(const unsigned char *p, long i, int salt) {
    static unsigned char want[PG];
    data(want, i, salt);
    return memcmp(want, p, PG) == 0;
}

static int all(const unsigned char *p, unsigned char b) {
    for (int j = 0; j < PG; j++)
        if (p[j] != b) return 0;
    return 1;
}

/* each page of area as the pattern says; untouched pages read as `untouched` (0, or the file's 'f') */
static int check_area(const char *name, unsigned char *area, long pages, int salt, unsigned char untouched) {
    for (long i = 0; i < pages; i++) {
        unsigned char *p = area + i * PG;
        int k = kind(i, salt);
        int ok = k == DATA ? is_data(p, i, salt) : all(p, k == ZERO ? 0 : untouched);
        if (!ok) {
            printf("FAIL: %s page %ld (kind %d) holds %02x %02x ...\n", name, i, k, p[0], p[1]);
            return 0;
        }
    }
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: zeroruns DIR");
    unsigned char *heap = mmap(NULL, (size_t)HEAP_PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *ro = mmap(NULL, (size_t)RO_PAGES * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (heap == MAP_FAILED || ro == MAP_FAILED) fail("mmap");
    /* no huge page: one would make its zero pages resident (a host with THP "always") */
    if (madvise(heap, (size_t)HEAP_PAGES * PG, MADV_NOHUGEPAGE) != 0) fail("madvise");
    for (long i = 0; i < HEAP_PAGES; i++) {
        int k = kind(i, 1);
        if (k != UNTOUCHED) data(heap + i * PG, i, 1);
        if (k == ZERO) memset(heap + i * PG, 0, PG);
    }
    int mem = open("/proc/self/mem", O_RDWR);
    if (mem < 0) fail("open /proc/self/mem");
    static unsigned char page[PG];
    for (long i = 0; i < RO_PAGES; i++) {
        int k = kind(i, 2);
        if (k == UNTOUCHED) continue;
        if (k == DATA) data(page, i, 2);
        else memset(page, 0, PG);
        if (pwrite(mem, page, PG, (off_t)(uintptr_t)(ro + i * PG)) != PG) fail("pwrite /proc/self/mem");
    }
    close(mem);
    char path[4096];
    snprintf(path, sizeof path, "%s/zeroruns.file", argv[1]);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) fail("open file");
    memset(page, 'f', PG);
    for (int i = 0; i < FILE_PAGES; i++)
        if (write(fd, page, PG) != PG) fail("write file");
    unsigned char *file = mmap(NULL, (size_t)FILE_PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (file == MAP_FAILED) fail("mmap file");
    close(fd);
    for (long i = 0; i < FILE_PAGES; i++) {
        int k = kind(i, 3);
        if (k == DATA) data(file + i * PG, i, 3);
        else if (k == ZERO) memset(file + i * PG, 0, PG);
    }
    signal(SIGUSR2, on_usr2);
    printf("ready\n");
    fflush(stdout);
    while (!check) pause();
    static unsigned char resident[HEAP_PAGES]; /* before the checks: reading a page maps the zero page */
    if (mincore(heap, (size_t)HEAP_PAGES * PG, resident) != 0) fail("mincore");
    if (!check_area("heap", heap, HEAP_PAGES, 1, 0) || !check_area("ro", ro, RO_PAGES, 2, 0)
            || !check_area("file", file, FILE_PAGES, 3, 'f')) {
        return 1;
    }
    long zeros = 0, written = 0;
    for (long i = 0; i < HEAP_PAGES; i++) {
        if (kind(i, 1) != ZERO) continue;
        zeros++;
        if (resident[i] & 1) written++;
    }
    if (written > 0) {
        printf("FAIL: %ld of the heap's %ld zero pages are resident: written by the restore\n", written, zeros);
        return 1;
    }
    printf("PASS %ld zero pages\n", zeros);
    fflush(stdout);
    return 0;
}
