/*
 * A deleted sparse file far larger than the ghost limit (64 MiB) holding little data: 4 KiB at
 * its start and 4 KiB at 32 MiB. Only its data counts against the limit and travels; the holes
 * come back as holes. zdtm's ghost_holes_large00 found it: the limit was held against the file's
 * size, so the dump was refused. On SIGUSR2 checks size, allocated blocks, both data pages and
 * where SEEK_HOLE/SEEK_DATA find the middle hole. Arguments: the directory for the file; optionally
 * how many bytes of data at 32 MiB (4096 by default; 20 MiB: more than a piece of the image, so its
 * contents travel apart from its task's record). Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

#define PG 4096
#define MID (32L << 20)
#define SIZE (64L << 20)

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2 || chdir(argv[1])) fail("usage: ghostsparse DIR");
    int fd = open("sparse", O_RDWR | O_CREAT | O_TRUNC, 0640);
    if (fd < 0 || unlink("sparse")) fail("open/unlink");
    long n = argc > 2 ? atol(argv[2]) : PG;
    if (n < PG || n % PG || n > SIZE - MID - PG) fail("data bytes: whole pages, under 32 MiB");
    char a[PG];
    unsigned char *b = malloc(n), *got = malloc(n);
    if (!b || !got) fail("malloc");
    memset(a, 'a', PG);
    for (long j = 0; j < n; j++) b[j] = (unsigned char)(j * 13 + 5) | 1; /* no zero byte: all of it stays data */
    if (pwrite(fd, a, PG, 0) != PG || pwrite(fd, b, n, MID) != n || ftruncate(fd, SIZE)) fail("write");
    if (lseek(fd, 0, SEEK_HOLE) != PG) fail("no hole on this file system");
    printf("ready\n");
    while (!check) pause();
    struct stat st;
    if (fstat(fd, &st)) fail("fstat");
    if (st.st_size != SIZE) { printf("FAIL: size %ld\n", (long)st.st_size); return 1; }
    if (st.st_blocks * 512 != PG + n) { printf("FAIL: %ld bytes allocated, not %ld\n", (long)st.st_blocks * 512, PG + n); return 1; }
    if (pread(fd, got, PG, 0) != PG || memcmp(got, a, PG)) { printf("FAIL: first page\n"); return 1; }
    if (pread(fd, got, n, MID) != n || memcmp(got, b, n)) { printf("FAIL: data at 32 MiB\n"); return 1; }
    if (lseek(fd, 0, SEEK_HOLE) != PG || lseek(fd, PG, SEEK_DATA) != MID) { printf("FAIL: the middle hole moved\n"); return 1; }
    if (lseek(fd, MID, SEEK_HOLE) != MID + n) { printf("FAIL: the tail hole moved\n"); return 1; }
    printf("PASS\n");
    return 0;
}
