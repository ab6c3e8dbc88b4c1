/*
 * seccompbatch — threads under a seccomp filter, for the dump's syscall batches.
 *
 * Usage: seccompbatch allow | seccompbatch notgkill
 *   allow:    the filter makes getppid fail with EPERM and lets everything else through;
 *   notgkill: it also makes tgkill fail with EPERM, so no batch can end with a signal the thread
 *             sends itself and the dump must read each call on its own.
 * The filter checks the arch first (anything else is killed), as real filters do, and loads an
 * argument (tgkill's signal) on its way. Starts two threads that sleep, then prints "ready".
 * On SIGUSR2 checks that getppid still fails with EPERM, tgkill as the mode says, and getpid works;
 * prints "PASS" or "FAIL: reason".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile sig_atomic_t check;
static void on_usr2(int s) { (void)s; check = 1; }

/* the test's process-directed SIGUSR2 must reach the main thread, in its pause() */
static void *idle(void *a)
{
    (void)a;
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &usr2, NULL);
    for (;;) pause();
    return NULL;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int notgkill = argc > 1 && !strcmp(argv[1], "notgkill");
    signal(SIGUSR2, on_usr2);
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_tgkill, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, notgkill ? 0 : 65, 0, 1), /* every signal, or none (< 65) */
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) { printf("FAIL: no_new_privs\n"); return 1; }
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) { printf("FAIL: seccomp: %s\n", strerror(errno)); return 1; }
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, idle, NULL)) { printf("FAIL: pthread_create\n"); return 1; }
    usleep(20000);
    printf("ready\n");
    while (!check) pause();
    errno = 0;
    if (syscall(SYS_getppid) != -1 || errno != EPERM) { printf("FAIL: getppid allowed\n"); return 1; }
    errno = 0;
    long k = syscall(SYS_tgkill, getpid(), getpid(), 0);
    if (notgkill ? (k != -1 || errno != EPERM) : k != 0) { printf("FAIL: tgkill gave %ld errno %d\n", k, errno); return 1; }
    if (syscall(SYS_getpid) != getpid()) { printf("FAIL: getpid\n"); return 1; }
    printf("PASS\n");
    return 0;
}
