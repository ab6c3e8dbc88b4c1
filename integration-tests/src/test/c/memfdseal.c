/*
 * Sealed memfds a process maps shared, by MODE:
 *   write    sealed against writing (F_SEAL_WRITE), mapped read-only through an O_RDONLY reopen
 *            (zdtmf42's memfd_seals2): its restore failed, after the dump had killed the tree, as the
 *            restored mapping is writable while the seal is added (EBUSY); still refused
 *   closed   sealed F_SEAL_GROW|F_SEAL_SHRINK, mapped, its fd closed (memfd_seals3): it came back
 *            unsealed, the restore taking a memfd's seals from its fds only
 *   allowed  made with MFD_ALLOW_SEALING, no seal set, mapped, its fd closed: it came back not sealable
 * Prints "ready". In closed and allowed, on SIGUSR2: the mapping's memfd (through /proc/self/map_files)
 * has the seals it had and its bytes, and closed's cannot grow; prints "PASS" or "FAIL: why".
 * In write, waits (600 s at most) to be killed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "workload.h"

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc > 1 && (!strcmp(argv[1], "closed") || !strcmp(argv[1], "allowed"))) {
        int seals = !strcmp(argv[1], "closed") ? F_SEAL_GROW | F_SEAL_SHRINK : 0;
        int fd = memfd_create("cryo-sealed", MFD_ALLOW_SEALING);
        char *m = fd < 0 || ftruncate(fd, 4096) ? MAP_FAILED : mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED || (seals && fcntl(fd, F_ADD_SEALS, seals))) fail("memfd");
        strcpy(m, "sealed");
        close(fd);
        printf("ready\n");
        alarm(600);
        while (!check) pause();
        char path[64];
        snprintf(path, sizeof path, "/proc/self/map_files/%lx-%lx", (unsigned long)m, (unsigned long)m + 4096);
        int again = open(path, O_RDWR);
        if (again < 0) fail("open map_files");
        int now = fcntl(again, F_GET_SEALS);
        if (now != seals) {
            printf("FAIL: seals 0x%x, expected 0x%x\n", now, seals);
            return 1;
        }
        if (strcmp(m, "sealed")) fail("its bytes");
        if (seals && (ftruncate(again, 8192) == 0 || errno != EPERM)) fail("it could grow");
        printf("PASS\n");
        return 0;
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
