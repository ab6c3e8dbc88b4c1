/*
 * A memfd sealed against writing (F_SEAL_WRITE) that the process maps shared, read-only through an
 * O_RDONLY reopen (zdtmf42's memfd_seals2): its restore failed, after the dump had killed the tree,
 * as the restored mapping is writable while the seal is added (EBUSY). Prints "ready", then waits
 * (600 s at most) to be killed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "workload.h"

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int fd = memfd_create("cryo-sealed", MFD_ALLOW_SEALING);
    if (fd < 0 || ftruncate(fd, 4096) || pwrite(fd, "sealed", 6, 0) != 6) fail("memfd");
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    int ro = open(p, O_RDONLY);
    char *m = ro < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ, MAP_SHARED, ro, 0);
    if (m == MAP_FAILED) fail("mmap");
    close(ro);
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE)) fail("F_ADD_SEALS");
    printf("ready\n");
    alarm(600);
    for (;;) pause();
}
