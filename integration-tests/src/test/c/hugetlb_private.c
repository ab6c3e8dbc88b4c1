/*
 * Private anonymous hugetlb memory, as a JVM with -XX:+UseLargePages maps its code cache: a
 * writable area of two 2 MiB pages (the first written, the second never touched) and a read-only
 * one of one page written before it was protected. Prints "ready" (or "nohuge ready" when the
 * host's pool has no page to give: the areas are then MAP_NORESERVE and untouched); on SIGUSR2
 * checks the bytes, that both areas are still hugetlb ("ht", KernelPageSize 2048 kB), that the
 * untouched page reads zero and that the first takes writes, then prints PASS or FAIL: reason.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "hugetlbarea.h"

#define HUGE (2 * 1024 * 1024)

static volatile sig_atomic_t check;
static void on_usr2(int sig) { (void)sig; check = 1; }

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB;
    unsigned char *rw = mmap(NULL, 2 * HUGE, PROT_READ | PROT_WRITE, flags, -1, 0);
    unsigned char *ro = rw == MAP_FAILED ? MAP_FAILED : mmap(NULL, HUGE, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (rw == MAP_FAILED || ro == MAP_FAILED) {
        if (rw != MAP_FAILED) munmap(rw, 2 * HUGE);
        rw = mmap(NULL, 2 * HUGE, PROT_READ | PROT_WRITE, flags | MAP_NORESERVE, -1, 0);
        if (rw == MAP_FAILED) { printf("FAIL: no hugetlb mapping even with MAP_NORESERVE\n"); return 1; }
        printf("nohuge ready\n");
        while (!check) pause();
        printf(hugetlb_area(rw) ? "PASS nohuge\n" : "FAIL: the area is no longer hugetlb\n");
        return 0;
    }
    for (int i = 0; i < HUGE; i += 64) rw[i] = (unsigned char)(i >> 6), ro[i] = (unsigned char)(i >> 7);
    mprotect(ro, HUGE, PROT_READ);
    printf("ready\n");
    while (!check) pause();
    for (int i = 0; i < HUGE; i += 64) {
        if (rw[i] != (unsigned char)(i >> 6)) { printf("FAIL: rw byte %d\n", i); return 1; }
        if (ro[i] != (unsigned char)(i >> 7)) { printf("FAIL: ro byte %d\n", i); return 1; }
    }
    if (!hugetlb_area(rw) || !hugetlb_area(ro)) { printf("FAIL: an area is no longer hugetlb with 2 MiB pages\n"); return 1; }
    for (int i = 0; i < HUGE; i += 4096)
        if (rw[HUGE + i]) { printf("FAIL: the untouched page holds %d at %d\n", rw[HUGE + i], i); return 1; }
    memset(rw, 7, HUGE);
    if (rw[HUGE - 1] != 7) { printf("FAIL: write\n"); return 1; }
    printf("PASS\n");
    return 0;
}
