/*
 * zerowrites — a known number of data pages and of zero pages, for the figures a dump reports.
 *
 * Usage: zerowrites FILE [keep]
 *
 * Holds 64 data pages and 1024 zero pages (written with data, then zeroed: present, all zero) in
 * anonymous memory, and as many of each in a private mapping of FILE (at least 2048 pages of
 * non-zero bytes: a zero page there hides the file's bytes, so the image records it as zero).
 * With "keep" it rewrites, every 5 ms, its anonymous data pages (new data each time) and zero
 * pages (zeros again), as a database zeroing its buffers does while pre-copy rounds run.
 * Prints "ready"; on SIGUSR2 checks every page and prints PASS or "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "pagewords.h"
#include "workload.h"

#define DATA 64
#define ZERO 1024
#define ALL (DATA + ZERO)

static uint32_t gen;

static int check_area(const char *name, uint8_t *area, uint32_t g) {
    for (size_t p = 0; p < ALL; p++) {
        const uint64_t *w = (const uint64_t *)(area + p * PAGE);
        long bad = p < DATA ? first_difference(w, page_seed(p, g)) : first_nonzero(w);
        if (bad >= 0) {
            printf("FAIL: %s page %zu word %ld\n", name, p, bad);
            return 0;
        }
    }
    return 1;
}

static void write_area(uint8_t *area, uint32_t g, int data_first) {
    for (size_t p = 0; p < ALL; p++) {
        if (p < DATA || data_first) fill_words((uint64_t *)(area + p * PAGE), page_seed(p, g));
        if (p >= DATA) memset(area + p * PAGE, 0, PAGE);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: zerowrites FILE [keep]");
    int keep = argc > 2 && strcmp(argv[2], "keep") == 0;
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) fail("open");
    uint8_t *anon = mmap(NULL, ALL * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint8_t *file = mmap(NULL, ALL * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (anon == MAP_FAILED || file == MAP_FAILED) fail("mmap");
    close(fd);
    /* no huge page: one would make pages never written resident, and count them */
    if (madvise(anon, ALL * PAGE, MADV_NOHUGEPAGE) != 0) fail("madvise");
    write_area(anon, 0, 1);
    write_area(file, 0, 1);
    signal(SIGUSR2, on_usr2);
    printf("ready\n");
    fflush(stdout);
    while (!check) {
        if (keep) {
            write_area(anon, ++gen, 0);
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        } else {
            pause();
        }
    }
    if (check_area("anonymous", anon, gen) && check_area("file", file, 0)) printf("PASS\n");
    fflush(stdout);
    return 0;
}
