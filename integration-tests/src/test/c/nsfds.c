/*
 * nsfds — fds of the process's own namespaces (zdtm's proc-self): /proc/self/ns/net, uts, ipc,
 * mnt, pid, user, cgroup and time opened (net twice: once O_CLOEXEC, once as a dup), as
 * programs do to setns back into them later. Prints "ready" and waits.
 *
 * On SIGUSR2 checks: each fd still names the namespace its /proc/self/ns file names now (same
 * link text, same inode), keeps its close-on-exec flag, and setns through the net fd is accepted.
 * Prints "PASS" or "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *types[] = {"net", "uts", "ipc", "mnt", "pid", "user", "cgroup", "time"};
#define N (sizeof types / sizeof types[0])
static int fds[N], cloexec_net, dup_net;
static volatile sig_atomic_t check_requested;

static void on_usr2(int sig) { (void)sig; check_requested = 1; }

static int same(int fd, const char *type)
{
    char path[64], want[64], got[64];
    snprintf(path, sizeof path, "/proc/self/ns/%s", type);
    ssize_t a = readlink(path, want, sizeof want - 1);
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t b = readlink(path, got, sizeof got - 1);
    if (a < 0 || b < 0)
        return 0;
    want[a] = got[b] = 0;
    struct stat s1, s2;
    snprintf(path, sizeof path, "/proc/self/ns/%s", type);
    if (stat(path, &s1) || fstat(fd, &s2))
        return 0;
    return strcmp(want, got) == 0 && s1.st_ino == s2.st_ino;
}

int main(void)
{
    signal(SIGUSR2, on_usr2);
    for (unsigned i = 0; i < N; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/ns/%s", types[i]);
        fds[i] = open(path, O_RDONLY);
        if (fds[i] < 0) {
            printf("FAIL: open %s\n", path);
            return 1;
        }
    }
    cloexec_net = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    dup_net = dup(fds[0]);
    printf("ready\n");
    fflush(stdout);
    while (!check_requested)
        pause();

    for (unsigned i = 0; i < N; i++) {
        if (!same(fds[i], types[i])) {
            printf("FAIL: fd %d is not this process's %s namespace\n", fds[i], types[i]);
            return 1;
        }
        if (fcntl(fds[i], F_GETFD) != 0) {
            printf("FAIL: fd %d (%s) gained close-on-exec\n", fds[i], types[i]);
            return 1;
        }
    }
    if (!same(cloexec_net, "net") || fcntl(cloexec_net, F_GETFD) != FD_CLOEXEC) {
        printf("FAIL: the O_CLOEXEC net fd lost its namespace or its flag\n");
        return 1;
    }
    if (!same(dup_net, "net")) {
        printf("FAIL: the dup of the net fd is not the net namespace\n");
        return 1;
    }
    if (setns(fds[0], CLONE_NEWNET) != 0) {
        printf("FAIL: setns through the net fd: %m\n");
        return 1;
    }
    printf("PASS\n");
    return 0;
}
