/*
 * A program that re-executed itself without address randomization (personality
 * ADDR_NO_RANDOMIZE) and grows its brk heap in 64 KiB blocks across the dump (DMTCP's
 * heap-growth: after a restart the kernel's break must be where the program's allocator left
 * it, or the next sbrk lands elsewhere). After the restore: still ADDR_NO_RANDOMIZE, the heap
 * grows on from the break, and every block holds its pattern. On SIGUSR2: PASS or FAIL.
 */
#define _GNU_SOURCE
#include "workload.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <unistd.h>

#define BLOCK (64 * 1024)
#define MAX 256

/* in .bss, pages of their own: without randomization the heap starts right above them, and the
   two areas must come back apart (the kernel would merge them if mapped alike one after the other) */
static unsigned char *blocks[4096];

int main(int argc, char **argv) {
    int p = personality(0xffffffff);
    if (!(p & ADDR_NO_RANDOMIZE)) {
        personality(p | ADDR_NO_RANDOMIZE);
        execv("/proc/self/exe", argv);
        fail("execv");
    }
    signal(SIGUSR2, on_usr2);
    blocks[4095] = (unsigned char *)blocks; /* a page of the .bss area written: it has an anon_vma */
    int n = 0;
    printf("ready\n");
    fflush(stdout);
    while (!check || n < 64) {
        if (n < MAX) {
            void *before = sbrk(0);
            blocks[n] = malloc(BLOCK);
            if (!blocks[n]) fail("malloc");
            if ((uintptr_t)blocks[n] < (uintptr_t)before - (64u << 20)) fail("not from the brk heap");
            memset(blocks[n], n & 0xff, BLOCK);
            n++;
        }
        if (!check) usleep(20000);
    }
    if (!(personality(0xffffffff) & ADDR_NO_RANDOMIZE)) { printf("FAIL: personality lost\n"); return 1; }
    void *brk0 = sbrk(0);
    for (int i = 0; i < 32; i++, n++) {
        blocks[n] = malloc(BLOCK);
        if (!blocks[n]) fail("malloc after");
        memset(blocks[n], n & 0xff, BLOCK);
    }
    if (sbrk(0) == brk0) {
        /* once seen in CI at load 20 after a migration: say why the kernel refused to grow it */
        void *tried = sbrk(4096);
        printf("FAIL: the break did not move from %p (sbrk(4096): %p, %s); maps:\n", brk0, tried,
               tried == (void *)-1 ? strerror(errno) : "ok");
        FILE *maps = fopen("/proc/self/maps", "r");
        char line[512];
        while (maps && fgets(line, sizeof line, maps)) fputs(line, stdout);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < BLOCK; j += 4096) {
            if (blocks[i][j] != (i & 0xff)) { printf("FAIL: block %d\n", i); return 1; }
        }
    }
    printf("PASS %d blocks\n", n);
    return 0;
}
