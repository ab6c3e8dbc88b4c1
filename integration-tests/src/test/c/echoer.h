/*
 * A child that shares memory with its parent (MAP_SHARED, a SysV segment): it counts in word 0
 * and echoes word 1, which the parent writes, into word 2. The parent forks it and waits for its
 * first echo; after the restore, a new token written to word 1 must come back through the child
 * and the count must move: the memory is still one memory shared by both.
 */
#ifndef CRYO_ECHOER_H
#define CRYO_ECHOER_H

#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static void nap(long ms) { struct timespec ts = {0, ms * 1000000L}; nanosleep(&ts, NULL); }

/** Forks the echoing child (killed with its parent) and waits for its first echo. */
__attribute__((unused)) static void start_echoer(volatile uint64_t *shm) {
    pid_t parent = getpid();
    if (fork() == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(0);
        for (;;) {
            shm[0]++;
            shm[2] = shm[1];
            nap(5);
        }
    }
    shm[1] = 1;
    while (shm[2] != 1) nap(1);
}

/** 0 when a new token comes back within {@code tries} naps of 5 ms and the count moved; 1: no echo; 2: no count. */
__attribute__((unused)) static int echoes(volatile uint64_t *shm, int tries) {
    uint64_t before = shm[0], token = 0x5eed0000u + (uint64_t)getpid();
    shm[1] = token;
    for (int i = 0; i < tries && shm[2] != token; i++) nap(5);
    return shm[2] != token ? 1 : shm[0] <= before ? 2 : 0;
}

#endif
