/*
 * Flags of the address space a program sets for itself: transparent huge pages turned off
 * (prctl PR_SET_THP_DISABLE, as MariaDB does) and the coredump filter (/proc/self/coredump_filter).
 * On SIGUSR2 checks both, prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "workload.h"

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) < 0) fail("PR_SET_THP_DISABLE");
    FILE *f = fopen("/proc/self/coredump_filter", "w");
    if (!f || fprintf(f, "0x7f") < 0 || fclose(f) != 0) fail("coredump_filter");
    printf("ready\n");
    while (!check) pause();
    if (prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) != 1) fail("transparent huge pages are on again");
    unsigned long filter = 0;
    f = fopen("/proc/self/coredump_filter", "r");
    if (!f || fscanf(f, "%lx", &filter) != 1) fail("read coredump_filter");
    if (filter != 0x7f) fail("the coredump filter changed");
    printf("PASS\n");
    return 0;
}
