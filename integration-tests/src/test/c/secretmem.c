/*
 * memfd_secret(2) memory (zdtm's memfd-secret00), which the kernel hides from every other process:
 * by MODE the process keeps
 *   fd   the memfd_secret fd, sized to a page, not mapped
 *   map  a shared mapping of it with a secret written in, the fd closed
 * Prints "ready", then waits (600 s at most) to be killed.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "workload.h"

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: secretmem fd|map");
    setvbuf(stdout, NULL, _IOLBF, 0);
    int fd = syscall(447 /* memfd_secret */, 0);
    if (fd < 0 || ftruncate(fd, 4096)) fail("memfd_secret");
    if (!strcmp(argv[1], "map")) {
        char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) fail("mmap");
        strcpy(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
        close(fd);
    }
    printf("ready\n");
    alarm(600);
    for (;;) pause();
}
