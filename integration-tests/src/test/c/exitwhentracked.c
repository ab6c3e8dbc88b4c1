/*
 * A process that exits as soon as a pre-copy's tracking has registered its memory: the root of a
 * tree gone while the rounds run. Fills a 1 MiB area, prints "ready", then polls its smaps until the
 * area shows the "uw" flag (registered for uffd-wp tracking) and exits 0; gives up after 60 s (exit 1).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "workload.h"

static int tracked(const char *area) {
    char line[512], want[64];
    snprintf(want, sizeof want, "%lx-", (unsigned long)(uintptr_t)area);
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        fail("open /proc/self/smaps");
    int in = 0, yes = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, want, strlen(want)))
            in = 1;
        else if (in && !strncmp(line, "VmFlags:", 8)) {
            yes = strstr(line, " uw") != NULL;
            break;
        }
    }
    fclose(f);
    return yes;
}

int main(void) {
    char *area = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED)
        fail("mmap");
    memset(area, 7, 1 << 20);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("ready\n");
    for (int i = 0; i < 60000; i++) {
        if (tracked(area)) {
            printf("tracked: exiting\n");
            return 0;
        }
        usleep(1000);
    }
    printf("FAIL: never tracked\n");
    return 1;
}
