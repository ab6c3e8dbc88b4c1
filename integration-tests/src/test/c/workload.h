/*
 * The frame C workloads share: a workload sets itself up, prints "ready", waits until SIGUSR2
 * sets `check` (the test sends it after the restore), checks what it holds, and prints PASS or
 * "FAIL: reason (errno N)". Included by the workloads that need nothing else of it.
 */
#ifndef CRYO_WORKLOAD_H
#define CRYO_WORKLOAD_H

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static volatile sig_atomic_t check;

__attribute__((unused)) static void on_usr2(int sig) {
    (void)sig;
    check = 1;
}

__attribute__((unused)) static void fail(const char *why) {
    printf("FAIL: %s (errno %d)\n", why, errno);
    exit(1);
}

#endif
