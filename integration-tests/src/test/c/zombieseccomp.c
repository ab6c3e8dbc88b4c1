/*
 * Zombies that ran under seccomp: child A stacks two filters (getppid fails with EPERM) and exits
 * with 7; child B enters strict mode and exits with 5 (strict mode allows exit). Their parent
 * leaves them zombies (waitid WNOWAIT) and prints "ready A B". On SIGUSR2 it checks that their
 * status still shows the seccomp mode and filter count they died with (A: 2 and 2, B: 1 and 0),
 * reaps them with their statuses and prints "PASS" or "FAIL: reason". A container's zombies (an
 * nspawn container's) have filters: the restore brought them back with none.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

static int field(pid_t pid, const char *key) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    int v = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':') v = atoi(line + strlen(key) + 1);
    if (f) fclose(f);
    return v;
}

static void deny_getppid(void) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) _exit(100);
}

static pid_t zombie(int strict) {
    pid_t pid = fork();
    if (pid == 0) {
        if (strict) {
            prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT);
            syscall(SYS_exit, 5);
        }
        deny_getppid();
        deny_getppid();
        _exit(7);
    }
    siginfo_t si;
    if (pid < 0 || waitid(P_PID, pid, &si, WEXITED | WNOWAIT)) fail("fork or waitid");
    return pid;
}

static const char *verify(pid_t pid, int mode, int filters, int code) {
    static char why[160];
    int m = field(pid, "Seccomp"), n = field(pid, "Seccomp_filters"), status;
    if (m != mode || n != filters) {
        snprintf(why, sizeof why, "zombie %d shows Seccomp %d Seccomp_filters %d, died with %d and %d", pid, m, n,
                 mode, filters);
        return why;
    }
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != code) {
        snprintf(why, sizeof why, "zombie %d reaped with status 0x%x, expected exit %d", pid, status, code);
        return why;
    }
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    pid_t a = zombie(0), b = zombie(1);
    if (field(a, "Seccomp") != 2 || field(a, "Seccomp_filters") != 2 || field(b, "Seccomp") != 1)
        fail("this kernel's zombies do not show their seccomp state");
    printf("ready %d %d\n", a, b);
    while (!check) pause();
    const char *why = verify(a, 2, 2, 7);
    if (!why) why = verify(b, 1, 0, 5);
    if (why) { printf("FAIL: %s\n", why); return 1; }
    printf("PASS\n");
    return 0;
}
