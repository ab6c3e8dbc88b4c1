/*
 * A process asking for a parent-death signal (prctl PR_SET_PDEATHSIG SIGUSR1) while its parent
 * lives. On SIGUSR2 checks that the setting is still there and that the signal never came: after
 * a restore the parent is the restorer, which still runs. Prints PASS or FAIL: reason.
 * With the argument "detached", asks for SIGKILL instead and expects no setting at the check: a
 * detached restore's restorer exits, and its root must live on (the setting is dropped).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "adopted.h"
#include "workload.h"

static volatile sig_atomic_t orphaned;

static void on_usr1(int sig) {
    (void)sig;
    orphaned = 1;
}

int main(int argc, char **argv) {
    int detached = argc > 1 && strcmp(argv[1], "detached") == 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    signal(SIGUSR1, on_usr1);
    await_adopted(); /* asked for before the starting shell exits, the signal would come then */
    if (prctl(PR_SET_PDEATHSIG, detached ? SIGKILL : SIGUSR1)) fail("prctl(PR_SET_PDEATHSIG)");
    printf("ready\n");
    while (!check) pause();
    int sig = 0;
    if (prctl(PR_GET_PDEATHSIG, &sig)) fail("prctl(PR_GET_PDEATHSIG)");
    if (detached) {
        if (sig != 0) { printf("FAIL: the parent-death signal is %d after a detached restore\n", sig); return 1; }
        printf("PASS\n");
        return 0;
    }
    if (sig != SIGUSR1) { printf("FAIL: the parent-death signal is %d, not SIGUSR1\n", sig); return 1; }
    if (orphaned) { printf("FAIL: the parent-death signal came while the parent ran\n"); return 1; }
    printf("PASS\n");
    return 0;
}
