/*
 * Hugetlb memory cryo refuses: a private mapping of a memfd made with MFD_HUGETLB whose fd is closed,
 * so the mapping alone holds it (one held otherwise is carried: hugememfd.c), one 2 MiB page written. When the host has no huge page to give,
 * the mapping is made with MAP_NORESERVE and never touched (a hugetlb area all the same, VmFlags
 * "ht"; a touch would be SIGBUS) and it prints "nohuge ready", else "ready"; on SIGUSR2 checks
 * the page and prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE (2 * 1024 * 1024)

static volatile sig_atomic_t check;
static void on_usr2(int sig) { (void)sig; check = 1; }

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int fd = memfd_create("cryo-huge", MFD_HUGETLB);
    if (fd < 0 || ftruncate(fd, HUGE) != 0) { printf("FAIL: memfd_create(MFD_HUGETLB)\n"); return 1; }
    unsigned char *p = mmap(NULL, HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        p = mmap(NULL, HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
        if (p == MAP_FAILED) { printf("FAIL: no hugetlb mapping even with MAP_NORESERVE\n"); return 1; }
        close(fd);
        printf("nohuge ready\n");
        while (!check) pause();
        printf("PASS nohuge\n");
        return 0;
    }
    close(fd);
    for (int i = 0; i < HUGE; i += 4096) p[i] = (unsigned char)(i >> 12);
    printf("ready\n");
    while (!check) pause();
    for (int i = 0; i < HUGE; i += 4096)
        if (p[i] != (unsigned char)(i >> 12)) { printf("FAIL: page %d\n", i >> 12); return 1; }
    printf("PASS\n");
    return 0;
}
