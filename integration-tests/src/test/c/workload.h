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
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static volatile sig_atomic_t check;

__attribute__((unused)) static void on_usr2(int sig) {
    (void)sig;
    check = 1;
    /* the test's SIGUSR2 is process-directed: taken by another thread, it would leave the main thread
       in its pause() for good, so the main thread gets one of its own (seen at load 25) */
    if (syscall(SYS_gettid) != getpid()) syscall(SYS_tgkill, getpid(), getpid(), SIGUSR2);
}

__attribute__((unused)) static void fail(const char *why) {
    printf("FAIL: %s (errno %d)\n", why, errno);
    exit(1);
}

/** The parent of {@code pid} as /proc/PID/stat shows it, or -1 when it cannot be read. */
__attribute__((unused)) static int ppid_of(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int ppid = -1;
    if (fscanf(f, "%*d (%*[^)]) %*c %d", &ppid) != 1) ppid = -1;
    fclose(f);
    return ppid;
}

#endif
