/*
 * Memory-deny-write-execute (prctl PR_SET_MDWE, as a hardened service sets W^X for itself): a restore
 * that dropped it would let the program map memory writable and executable again, silently.
 * On SIGUSR2 checks that PR_GET_MDWE still reads PR_MDWE_REFUSE_EXEC_GAIN and that a
 * writable+executable mapping is still refused; prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "workload.h"

#define SET_MDWE 65
#define GET_MDWE 66

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (prctl(SET_MDWE, 1, 0, 0, 0) < 0) fail("PR_SET_MDWE");
    printf("ready\n");
    while (!check) pause();
    int flags = prctl(GET_MDWE, 0, 0, 0, 0);
    if (flags != 1) {
        printf("FAIL: PR_GET_MDWE reads %d, was 1\n", flags);
        return 1;
    }
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) fail("a writable and executable mapping was allowed");
    printf("PASS\n");
    return 0;
}
