/*
 * membarrier(2) registrations of the address space, as liburcu makes them (knotd): private
 * expedited, its sync-core and rseq flavours. A new mm has none, and an unregistered private
 * expedited barrier fails with EPERM (liburcu then aborts). On SIGUSR2 checks that the
 * registrations are the same (MEMBARRIER_CMD_GET_REGISTRATIONS) and that each barrier works;
 * prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/membarrier.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "workload.h"

#define GET_REGISTRATIONS (1 << 9)

static long mb(int cmd) { return syscall(SYS_membarrier, cmd, 0, 0); }

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (mb(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) < 0) fail("register private expedited");
    if (mb(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE) < 0) fail("register sync core");
    long before = mb(GET_REGISTRATIONS);
    if (before < 0) fail("MEMBARRIER_CMD_GET_REGISTRATIONS");
    printf("ready\n");
    while (!check) pause();
    long after = mb(GET_REGISTRATIONS);
    if (after != before) {
        printf("FAIL: registrations 0x%lx, were 0x%lx\n", after, before);
        return 1;
    }
    if (mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED) < 0) fail("private expedited barrier");
    if (mb(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE) < 0) fail("sync core barrier");
    printf("PASS\n");
    return 0;
}
