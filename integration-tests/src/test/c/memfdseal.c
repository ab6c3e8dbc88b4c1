/*
 * Sealed memfds a process maps shared, by MODE:
 *   write   sealed against writing (F_SEAL_WRITE), mapped read-only through an O_RDONLY reopen
 *           (zdtmf42's memfd_seals2): its restore failed, after the dump had killed the tree, as the
 *           restored mapping is writable while the seal is added (EBUSY)
 *   closed  sealed F_SEAL_GROW|F_SEAL_SHRINK, mapped, its fd closed (memfd_seals3): it came back
 *           unsealed, the restore taking a memfd's seals from its fds only
 * Prints "ready", then waits (600 s at most) to be killed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "workload.h"

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && !strcmp(argv[1], "closed")) {
        int fd = memfd_create("cryo-sealed", MFD_ALLOW_SEALING);
        char *m = fd < 0 || ftruncate(fd, 4096) ? MAP_FAILED : mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED || fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK)) fail("memfd");
        strcpy(m, "sealed");
        close(fd);
        printf("ready\n");
        alarm(600);
        for (;;) pause();
    }
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
