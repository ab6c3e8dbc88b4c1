/*
 * A process whose heap and one anonymous area each grew, a step at a time, larger than the host's
 * memory and swap together (stress-ng's malloc stressor: a 57 GiB sparse brk heap on a 24 GiB host).
 * The kernel's heuristic overcommit refuses one request that large but not the steps, and merges
 * the steps into one area. The process is a forked child whose heap begins with two areas the
 * kernel keeps apart (split by mprotect before the fork: each gets an anon_vma of its own in the
 * child), so the large part comes back apart from the one before it too (AnonymousMemory.keptApart).
 * After the restore each step's first page holds its number, the heap grows on by another step,
 * and the large areas are still one area each. SIGUSR2 to the parent: the child checks, PASS or FAIL.
 */
#define _GNU_SOURCE
#include "workload.h"
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define STEP (1UL << 30)

static pid_t child;

static void to_child(int sig) {
    (void)sig;
    kill(child, SIGUSR2);
}

static unsigned long host_bytes(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    char key[64];
    unsigned long kb, total = 0;
    if (!f) fail("/proc/meminfo");
    while (fscanf(f, "%63s %lu kB\n", key, &kb) == 2)
        if (!strcmp(key, "MemTotal:") || !strcmp(key, "SwapTotal:")) total += kb * 1024;
    fclose(f);
    return total;
}

/* how many areas of /proc/self/maps hold part of [start, end) */
static int areas(uintptr_t start, uintptr_t end) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int n = 0;
    if (!f) fail("/proc/self/maps");
    while (fgets(line, sizeof line, f)) {
        uintptr_t a, b;
        if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a < end && b > start) n++;
    }
    fclose(f);
    return n;
}

int main(void) {
    char *first = sbrk(2 * 4096);
    if (first == (void *)-1) fail("sbrk");
    first[0] = 1;
    first[4096] = 2;
    if (mprotect(first, 4096, PROT_READ)) fail("mprotect");
    child = fork();
    if (child < 0) fail("fork");
    if (child > 0) {
        signal(SIGUSR2, to_child);
        int status;
        while (waitpid(child, &status, 0) < 0)
            if (errno != EINTR) fail("waitpid");
        return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    }
    signal(SIGUSR2, on_usr2);
    if (mprotect(first, 4096, PROT_READ | PROT_WRITE)) fail("mprotect back");
    first[0] = 3;
    unsigned long steps = host_bytes() / STEP * 3 / 2 + 1;
    char *heap = sbrk(0);
    for (unsigned long i = 0; i < steps; i++) {
        char *s = sbrk(STEP);
        if (s == (void *)-1) fail("sbrk");
        *(unsigned long *)s = i + 1;
    }
    char *area = mmap(NULL, STEP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) fail("mmap");
    *(unsigned long *)area = 1;
    for (unsigned long i = 1; i < steps; i++) {
        /* each step right below the one before: the kernel merges it into the area */
        char *s = mmap(area - STEP, STEP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                       -1, 0);
        if (s == MAP_FAILED) fail("mmap below");
        area = s;
        *(unsigned long *)s = i + 1;
    }
    if (areas((uintptr_t)heap, (uintptr_t)heap + steps * STEP) != 1 ||
        areas((uintptr_t)area, (uintptr_t)area + steps * STEP) != 1)
        fail("the steps are not one area each");
    if (areas((uintptr_t)first, (uintptr_t)heap) < 2) fail("the heap's first areas merged");
    printf("ready\n");
    fflush(stdout);
    while (!check) pause();
    if (first[0] != 3 || first[4096] != 2) { printf("FAIL: the heap's first pages\n"); return 1; }
    for (unsigned long i = 0; i < steps; i++) {
        if (*(unsigned long *)(heap + i * STEP) != i + 1) { printf("FAIL: heap step %lu\n", i); return 1; }
        if (*(unsigned long *)(area + (steps - 1 - i) * STEP) != i + 1) { printf("FAIL: area step %lu\n", i); return 1; }
    }
    if (areas((uintptr_t)heap, (uintptr_t)heap + steps * STEP) != 1 ||
        areas((uintptr_t)area, (uintptr_t)area + steps * STEP) != 1) {
        printf("FAIL: an area came back in pieces\n");
        return 1;
    }
    char *s = sbrk(STEP);
    if (s == (void *)-1) fail("sbrk after the restore");
    *(unsigned long *)s = 1;
    printf("PASS %lu steps of 1 GiB\n", steps);
    return 0;
}
