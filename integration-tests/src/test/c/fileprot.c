/*
 * zdtm's maps_file_prot: a file opened for writing, mapped shared read-only, its second page made
 * writable, the fd closed. The restore must open the file for writing again even for the read-only
 * page, so it can still be made writable (mprotect checks how the mapped file was opened), while a
 * file opened read-only and mapped shared still refuses PROT_WRITE. Argument: a directory.
 * Prints "ready"; on SIGUSR2 checks and prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "workload.h"

#define PAGE 4096

static char *map_file(const char *dir, const char *name, int flags, int prot) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0 || ftruncate(fd, 2 * PAGE) < 0) fail("create");
    close(fd);
    fd = open(path, flags);
    if (fd < 0) fail("open");
    char *m = mmap(NULL, 2 * PAGE, prot, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) fail("mmap");
    close(fd);
    return m;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2) fail("usage: fileprot DIR");
    char *rw = map_file(argv[1], "rw", O_RDWR, PROT_READ);
    if (mprotect(rw + PAGE, PAGE, PROT_READ | PROT_WRITE) < 0) fail("mprotect");
    rw[PAGE] = 'x';
    char *ro = map_file(argv[1], "ro", O_RDONLY, PROT_READ);
    printf("ready\n");
    while (!check) pause();
    if (rw[PAGE] != 'x') fail("the writable page lost its byte");
    rw[PAGE] = 'y';
    if (mprotect(rw, PAGE, PROT_READ | PROT_WRITE) < 0) fail("a page of a file open for writing cannot be made writable");
    rw[0] = 'z';
    if (mprotect(ro, PAGE, PROT_READ | PROT_WRITE) == 0) fail("a page of a file open read-only was made writable");
    printf("PASS\n");
    return 0;
}
