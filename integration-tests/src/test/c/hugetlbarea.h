/* Whether the area mapped at an address is hugetlb memory in 2 MiB pages, as smaps says. */
#ifndef CRYO_HUGETLBAREA_H
#define CRYO_HUGETLBAREA_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 if the smaps area starting at p is hugetlb ("ht") with 2 MiB pages */
__attribute__((unused)) static int hugetlb_area(const volatile void *p) {
    char want[32], line[512];
    snprintf(want, sizeof want, "%lx-", (unsigned long)p);
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return 0;
    int in = 0, size = 0, ht = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, want, strlen(want)) == 0) { in = 1; continue; }
        if (!in) continue;
        if (strncmp(line, "KernelPageSize:", 15) == 0) size = atoi(line + 15) == 2048;
        if (strncmp(line, "VmFlags:", 8) == 0) { ht = strstr(line, " ht") != NULL; break; }
    }
    fclose(f);
    return size && ht;
}

#endif
