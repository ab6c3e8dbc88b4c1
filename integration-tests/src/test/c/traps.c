/*
 * Per-thread fault switches a sandbox or a hardened program sets: cpuid faulting (arch_prctl
 * ARCH_SET_CPUID 0, an emulator of cpuid), rdtsc faulting (PR_SET_TSC PR_TSC_SIGSEGV) and the
 * machine-check kill policy (PR_MCE_KILL), and syscall user dispatch (PR_SET_SYSCALL_USER_DISPATCH,
 * Wine's: syscalls outside a range trap with SIGSYS while a selector byte says block). The main
 * thread faults on cpuid with the LATE policy, a worker faults on rdtsc with the EARLY policy and has
 * syscall user dispatch on (selector allowing at the dump), a second worker has none of them (a
 * restore that set them in the main thread before cloning would give them to it). On SIGUSR2 each
 * thread reads its switches and proves the faults still happen; prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "workload.h"

#ifndef ARCH_GET_CPUID
#define ARCH_GET_CPUID 0x1011
#define ARCH_SET_CPUID 0x1012
#endif

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_ON 1
#endif

static __thread sigjmp_buf jump;
static __thread volatile char selector; /* 0: allow, 1: block */
static __thread volatile int sigsys;

static void on_sigsys(int sig) {
    (void)sig;
    selector = 0; /* rt_sigreturn must pass */
    sigsys = 1;
}

/* whether a syscall traps while the selector blocks */
static int syscalls_trap(void) {
    sigsys = 0;
    selector = 1;
    syscall(SYS_getppid);
    selector = 0;
    return sigsys;
}
static pthread_barrier_t set, go;
static char verdict[3][160];

static void on_segv(int sig) {
    (void)sig;
    siglongjmp(jump, 1);
}

static int cpuid_faults(void) {
    if (sigsetjmp(jump, 1)) return 1;
    unsigned a = 0, b, c = 0, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    return 0;
}

static int rdtsc_faults(void) {
    if (sigsetjmp(jump, 1)) return 1;
    unsigned lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return 0;
}

/* what this thread holds against what it set: "" when equal */
static void compare(char *out, int cpuid, int tsc, int mce, int sud) {
    int t = -1;
    prctl(PR_GET_TSC, &t);
    long c = syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0);
    int m = prctl(PR_MCE_KILL_GET, 0, 0, 0, 0);
    if ((c == 0) != cpuid || cpuid_faults() != cpuid)
        snprintf(out, 160, "cpuid faulting %ld, wanted %s", c, cpuid ? "on" : "off");
    else if ((t == PR_TSC_SIGSEGV) != tsc || rdtsc_faults() != tsc)
        snprintf(out, 160, "PR_GET_TSC %d, wanted %s", t, tsc ? "SIGSEGV" : "enabled");
    else if (m != mce)
        snprintf(out, 160, "PR_MCE_KILL_GET %d, wanted %d", m, mce);
    else if (syscalls_trap() != sud)
        snprintf(out, 160, "syscall user dispatch %s, wanted %s", sud ? "off" : "on", sud ? "on" : "off");
}

static void *worker(void *arg) {
    long i = (long)arg;
    if (i == 1) {
        if (prctl(PR_SET_TSC, PR_TSC_SIGSEGV, 0, 0, 0)) fail("PR_SET_TSC");
        if (prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY, 0, 0)) fail("PR_MCE_KILL early");
        if (prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, 0, 1, &selector)) fail("syscall user dispatch");
        if (!syscalls_trap()) fail("syscall user dispatch does not trap");
    }
    pthread_barrier_wait(&set);
    pthread_barrier_wait(&go);
    if (i == 1) compare(verdict[1], 0, 1, PR_MCE_KILL_EARLY, 1);
    else compare(verdict[2], 0, 0, PR_MCE_KILL_DEFAULT, 0);
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    signal(SIGSEGV, on_segv);
    signal(SIGSYS, on_sigsys);
    pthread_barrier_init(&set, NULL, 3);
    pthread_barrier_init(&go, NULL, 3);
    pthread_t t[2];
    for (long i = 0; i < 2; i++) pthread_create(&t[i], NULL, worker, (void *)(i + 1));
    pthread_barrier_wait(&set);
    if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0)) fail("ARCH_SET_CPUID (no cpuid faulting on this CPU?)");
    if (prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_LATE, 0, 0)) fail("PR_MCE_KILL late");
    printf("ready\n");
    while (!check) pause();
    pthread_barrier_wait(&go);
    compare(verdict[0], 1, 0, PR_MCE_KILL_LATE, 0);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 3; i++) {
        if (verdict[i][0]) {
            printf("FAIL: thread %d: %s\n", i, verdict[i]);
            return 1;
        }
    }
    printf("PASS\n");
    return 0;
}
