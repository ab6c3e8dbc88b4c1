/*
 * Sealed memfds a process maps shared, by MODE:
 *   write    sealed against writing (F_SEAL_WRITE) with its fd open, mapped read-only through an O_RDONLY
 *            reopen (zdtmf42's memfd_seals2): its restore failed, after the dump had killed the tree, as the
 *            restored mapping was writable while the seal was added (EBUSY); then refused
 *   future   F_SEAL_FUTURE_WRITE (a producer's way): mapped writable before the seal, read-only after it
 *            (the kernel takes VM_MAYWRITE away), its fd closed: refused before
 *   consumer sealed F_SEAL_WRITE|F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_SEAL with its fd open (systemd, GLib,
 *            pipewire hand memfds out so), then mapped read-only shared from that fd, which is open for writing
 *            (VM_SHARED kept, VM_MAYWRITE taken away), by it and by a child it forks: refused before
 *   closed   sealed F_SEAL_GROW|F_SEAL_SHRINK, mapped, its fd closed (memfd_seals3): it came back
 *            unsealed, the restore taking a memfd's seals from its fds only
 *   allowed  made with MFD_ALLOW_SEALING, no seal set, mapped, its fd closed: it came back not sealable
 *   noexec   future's, made with MFD_NOEXEC_SEAL (mode 0666, F_SEAL_EXEC: Firefox's IPC memory): the restore
 *            failed (F_ADD_SEALS EBUSY), as on a memfd with exec bits F_SEAL_EXEC brings F_SEAL_WRITE along
 * Prints "ready". On SIGUSR2: the memfd (through /proc/self/map_files for a closed fd) has the seals it had
 * and its bytes; closed's cannot grow; write's and future's read-only mapping cannot be made writable nor the
 * memfd written through an fd or a new writable mapping; future's writable mapping still writes, and the
 * other mapping sees it. Prints "PASS" or "FAIL: why".
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
    int noexec = argc > 1 && !strcmp(argv[1], "noexec");
    int future = noexec || (argc > 1 && !strcmp(argv[1], "future"));
    int consumer = argc > 1 && !strcmp(argv[1], "consumer");
    int seal = future ? F_SEAL_FUTURE_WRITE : consumer ? F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL
            : F_SEAL_WRITE;
    int fd = memfd_create("cryo-sealed", MFD_ALLOW_SEALING | (noexec ? 0x0008 /* MFD_NOEXEC_SEAL */ : 0));
    if (fd < 0 || ftruncate(fd, 8192) || pwrite(fd, "sealed", 6, 0) != 6) fail("memfd");
    char *w = NULL, *m;
    if (future) {
        w = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (w == MAP_FAILED || fcntl(fd, F_ADD_SEALS, seal)) fail("writable mmap, F_ADD_SEALS");
        if (noexec)
            seal |= 0x0020; /* F_SEAL_EXEC, which MFD_NOEXEC_SEAL set */
        m = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0); /* the seal takes its VM_MAYWRITE away */
        if (m == MAP_FAILED) fail("mmap");
        close(fd);
        fd = -1;
    } else if (consumer) {
        if (fcntl(fd, F_ADD_SEALS, seal)) fail("F_ADD_SEALS");
        m = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) fail("mmap");
        pid_t parent = getpid();
        int mapped[2];
        if (pipe(mapped)) fail("pipe");
        pid_t child = fork();
        if (child < 0) fail("fork");
        if (child == 0) { /* maps it again by itself, then waits for its parent's end (600 s at most) */
            char *c = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
            if (c == MAP_FAILED || strcmp(c, "sealed")) _exit(1);
            close(mapped[1]);
            for (int i = 0; i < 600 && getppid() == parent; i++) sleep(1);
            _exit(0);
        }
        close(mapped[1]);
        char b;
        if (read(mapped[0], &b, 1) != 0) fail("the child's mapping");
        close(mapped[0]);
    } else {
        char p[64];
        snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
        int ro = open(p, O_RDONLY);
        m = ro < 0 ? MAP_FAILED : mmap(NULL, 8192, PROT_READ, MAP_SHARED, ro, 0);
        if (m == MAP_FAILED) fail("mmap");
        close(ro);
        if (fcntl(fd, F_ADD_SEALS, seal)) fail("F_ADD_SEALS");
    }
    printf("ready\n");
    alarm(600);
    while (!check) pause();
    if (fd < 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/map_files/%lx-%lx", (unsigned long)m, (unsigned long)m + 8192);
        fd = open(path, O_RDWR);
        if (fd < 0) fail("open map_files");
    }
    int now = fcntl(fd, F_GET_SEALS);
    if (now != seal) {
        printf("FAIL: seals 0x%x, expected 0x%x\n", now, seal);
        return 1;
    }
    if (strcmp(m, "sealed")) fail("its bytes");
    if (consumer && (ftruncate(fd, 4096) != -1 || errno != EPERM || fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) != -1))
        fail("it could shrink or take a seal more");
    if (mprotect(m, 8192, PROT_READ | PROT_WRITE) == 0 || errno != EACCES) fail("its read-only mapping could be made writable");
    if (pwrite(fd, "x", 1, 0) != -1 || errno != EPERM) fail("it could be written through an fd");
    if (mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) != MAP_FAILED || errno != EPERM)
        fail("it could be mapped writable again");
    if (future) {
        strcpy(w + 4096, "written after");
        if (strcmp(m + 4096, "written after")) fail("the writable mapping's write not seen through the other");
    }
    printf("PASS\n");
    return 0;
}
