/*
 * KSM for the whole address space (prctl PR_SET_MEMORY_MERGE, as a memory-dense service sets it so
 * identical pages are shared): a restore that dropped it would leave the mappings the program makes
 * afterwards unmergeable, silently. On SIGUSR2 checks that PR_GET_MEMORY_MERGE still reads 1 and that
 * a new mapping is mergeable ("mg" in its smaps VmFlags); prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "workload.h"

#define SET_MEMORY_MERGE 67
#define GET_MEMORY_MERGE 68

/* Whether the mapping at addr has "mg" in its VmFlags. */
static int mergeable(void *addr) {
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) fail("smaps");
    char line[512];
    int in = 0, found = 0;
    unsigned long want = (unsigned long)addr;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = lo <= want && want < hi;
        } else if (in && strncmp(line, "VmFlags:", 8) == 0) {
            found = strstr(line, " mg") != NULL;
            break;
        }
    }
    fclose(f);
    return found;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (prctl(SET_MEMORY_MERGE, 1, 0, 0, 0) < 0) fail("PR_SET_MEMORY_MERGE");
    printf("ready\n");
    while (!check) pause();
    int on = prctl(GET_MEMORY_MERGE, 0, 0, 0, 0);
    if (on != 1) {
        printf("FAIL: PR_GET_MEMORY_MERGE reads %d, was 1\n", on);
        return 1;
    }
    void *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) fail("mmap");
    if (!mergeable(p)) fail("a new mapping is not mergeable");
    printf("PASS\n");
    return 0;
}
