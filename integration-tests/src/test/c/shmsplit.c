/*
 * zdtm's shm-mp: a 2-page SysV segment attached read-write, its first page then made read-only
 * (mprotect splits the attachment in two areas). It must be attached back whole, each page with
 * its protection, and the read-only page may still be made writable again (attached for writing).
 * Prints "shmid N" (whoever runs it removes the segment), then "ready"; on SIGUSR2 checks and
 * prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

#include "workload.h"

#define PAGE 4096

/* The permissions maps shows for the area starting at p ("r--s"), or "" if none does. */
static const char *perms(void *p, char *out) {
    char line[512];
    unsigned long start = (unsigned long)p, s, e;
    char pr[8];
    FILE *f = fopen("/proc/self/maps", "r");
    out[0] = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "%lx-%lx %7s", &s, &e, pr) == 3 && s == start) strcpy(out, pr);
    }
    if (f) fclose(f);
    return out;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int id = shmget(IPC_PRIVATE, 2 * PAGE, IPC_CREAT | 0600);
    if (id < 0) fail("shmget");
    printf("shmid %d\n", id);
    char *m = shmat(id, NULL, 0);
    if (m == (void *)-1) fail("shmat");
    m[0] = 'R';
    m[PAGE] = 'W';
    if (mprotect(m, PAGE, PROT_READ) < 0) fail("mprotect");
    struct shmid_ds ds;
    if (shmctl(id, IPC_STAT, &ds) != 0) fail("shmctl");
    unsigned long attached = ds.shm_nattch; /* the kernel counts each area of a split attachment */
    printf("ready\n");
    while (!check) pause();
    char p1[8], p2[8];
    if (strcmp(perms(m, p1), "r--s") != 0) fail("the first page is not read-only and shared");
    if (strcmp(perms(m + PAGE, p2), "rw-s") != 0) fail("the second page is not read-write and shared");
    if (m[0] != 'R' || m[PAGE] != 'W') fail("the contents changed");
    if (shmctl(id, IPC_STAT, &ds) != 0 || ds.shm_nattch != attached) fail("the segment's attach count changed");
    m[PAGE] = 'w';
    if (mprotect(m, PAGE, PROT_READ | PROT_WRITE) < 0) fail("the first page cannot be made writable again");
    m[0] = 'r';
    printf("PASS\n");
    return 0;
}
