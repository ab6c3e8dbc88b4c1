/*
 * strict — a child in seccomp strict mode survives a checkpoint/restore
 * (zdtm style).
 *
 * Usage: strict
 *
 * The parent forks a child that enters SECCOMP_MODE_STRICT (only read,
 * write, exit and rt_sigreturn allowed) and then serves commands from a
 * pipe: 'w' -> it writes "ok" back; 'x' -> it calls getpid(), which strict
 * mode answers with SIGKILL. The parent prints "ready" once the child has
 * answered one 'w' from inside strict mode, then waits in nanosleep.
 *
 * On SIGUSR2 the parent checks: the child is alive, /proc/CHILD/status says
 * "Seccomp: 1", it still answers 'w' with "ok" (read and write work), and a
 * forbidden call still kills it (waitpid reports SIGKILL). Then prints
 * "PASS" (exit 0) or "FAIL: <reason>" (exit 1).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t check_requested;

static void on_usr2(int sig)
{
    (void)sig;
    check_requested = 1;
}

static void child(int cmd, int resp)
{
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT))
        syscall(SYS_exit, 2);
    for (;;) {
        char c;
        if (syscall(SYS_read, cmd, &c, 1) != 1)
            syscall(SYS_exit, 3);
        if (c == 'w')
            syscall(SYS_write, resp, "ok", 2);
        else if (c == 'x')
            syscall(SYS_getpid); /* strict mode: SIGKILL */
    }
}

static int ask(int cmd, int resp, char *buf)
{
    if (write(cmd, "w", 1) != 1)
        return -1;
    struct pollfd p = {resp, POLLIN, 0};
    if (poll(&p, 1, 5000) != 1)
        return -1;
    int n = read(resp, buf, 2);
    buf[n > 0 ? n : 0] = 0;
    return n;
}

static int seccomp_mode(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    int v = -1;
    if (!f)
        return -2;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "Seccomp:", 8))
            v = atoi(line + 8);
    fclose(f);
    return v;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int to_child[2], from_child[2];
    if (pipe(to_child) || pipe(from_child)) {
        printf("FAIL: pipe\n");
        return 1;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGUSR2, SIG_IGN);
        child(to_child[0], from_child[1]);
    }
    char buf[8];
    if (ask(to_child[1], from_child[0], buf) != 2 || strcmp(buf, "ok")) {
        printf("FAIL: the child does not answer from strict mode\n");
        return 1;
    }
    if (seccomp_mode(pid) != 1) {
        printf("FAIL: the child is not in strict mode\n");
        return 1;
    }
    printf("ready\n");
    while (!check_requested) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    int status;
    if (waitpid(pid, &status, WNOHANG) != 0) {
        printf("FAIL: the child died (status %#x)\n", status);
        return 1;
    }
    int mode = seccomp_mode(pid);
    if (mode != 1) {
        printf("FAIL: the child's seccomp mode is %d, expected 1 (strict)\n", mode);
        return 1;
    }
    if (ask(to_child[1], from_child[0], buf) != 2 || strcmp(buf, "ok")) {
        printf("FAIL: the child no longer answers (read/write under strict mode)\n");
        return 1;
    }
    if (write(to_child[1], "x", 1) != 1 || waitpid(pid, &status, 0) != pid) {
        printf("FAIL: could not make the child call getpid\n");
        return 1;
    }
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
        printf("FAIL: a forbidden syscall did not kill the child (status %#x): strict mode is gone\n", status);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
