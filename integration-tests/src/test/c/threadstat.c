/*
 * netdata's way of timing its threads: the process holds /proc/self/task/TID/stat of one of its threads open
 * (named /proc/PID/task/TID/stat) and reads it again and again, and /proc/PID/task/TID/status read 20 bytes
 * into. The restore opened its files before it made the threads, so it failed (ENOENT). After the restore:
 * both fds name the thread's files again, the status one at offset 20, and stat reads that thread's line.
 * On SIGUSR2 the main thread checks and prints PASS or FAIL. With "fork", a child shares both open files (cryo
 * refuses that: the child would keep the main thread's files); so do, refused too, an unread message of a unix
 * pair with "fly" (the stat file, kept) and "flyalone" (the thread's io file, closed once sent), and with
 * "pidfd-fork" and "pidfd-fly" a thread pidfd (PIDFD_THREAD) of that thread, kept and shared; with "other" a child
 * opens the stat of its parent's thread itself (refused: every task's files are opened before any thread is made);
 * with "pidfd-epoll" an epoll watches the thread pidfd (refused: the watch would stay with the stand-in pidfd).
 */
#define _GNU_SOURCE
#include "workload.h"
#include "scmfds.h"
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/epoll.h>
#include <sys/socket.h>

static atomic_int tid;

static void *timed(void *arg) {
    (void)arg;
    pthread_setname_np(pthread_self(), "timedthread");
    tid = (int)syscall(SYS_gettid);
    for (;;) pause();
    return NULL;
}

static const char *names(int fd, const char *file) {
    static char why[512];
    char link[64], want[64], got[256];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    snprintf(want, sizeof want, "/proc/%d/task/%d/%s", getpid(), tid, file);
    ssize_t n = readlink(link, got, sizeof got - 1);
    if (n < 0) return "readlink";
    got[n] = 0;
    if (strcmp(got, want) != 0) {
        snprintf(why, sizeof why, "fd %d names %s, not %s", fd, got, want);
        return why;
    }
    return NULL;
}

static const char *checkFds(int stat, int status) {
    static char why[256];
    const char *bad = names(stat, "stat");
    if (!bad) bad = names(status, "status");
    if (bad) return bad;
    char line[512] = {0}, want[64];
    if (pread(stat, line, sizeof line - 1, 0) <= 0) return "pread stat";
    snprintf(want, sizeof want, "%d (timedthread) ", tid);
    if (strncmp(line, want, strlen(want)) != 0) {
        snprintf(why, sizeof why, "stat reads '%.60s', not the thread's '%s'", line, want);
        return why;
    }
    off_t at = lseek(status, 0, SEEK_CUR);
    if (at != 20) {
        snprintf(why, sizeof why, "status at offset %lld, not 20", (long long)at);
        return why;
    }
    return NULL;
}

int main(int argc, char **argv) {
    signal(SIGUSR2, on_usr2);
    pthread_t t;
    if (pthread_create(&t, NULL, timed, NULL)) fail("pthread_create");
    while (!tid) usleep(1000);
    char path[64], buf[20];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
    int stat = open(path, O_RDONLY);
    snprintf(path, sizeof path, "/proc/self/task/%d/status", tid);
    int status = open(path, O_RDONLY);
    if (stat < 0 || status < 0 || read(status, buf, sizeof buf) != sizeof buf) fail("open the thread's files");
    const char *why = checkFds(stat, status);
    if (why) { printf("FAIL: before the dump: %s\n", why); return 1; }
    const char *mode = argc > 1 ? argv[1] : "";
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, pair)) fail("socketpair");
    if (strcmp(mode, "fly") == 0) send_fds(pair[0], "stat", &stat, 1);
    if (strcmp(mode, "flyalone") == 0) {
        snprintf(path, sizeof path, "/proc/self/task/%d/io", tid);
        int io = open(path, O_RDONLY);
        if (io < 0) fail("open the thread's io");
        send_fds(pair[0], "io", &io, 1);
        close(io);
    }
    if (strncmp(mode, "pidfd-", 6) == 0) {
        int pidfd = (int)syscall(SYS_pidfd_open, tid, O_EXCL); /* PIDFD_THREAD */
        if (pidfd < 0) fail("pidfd_open(PIDFD_THREAD)");
        if (strcmp(mode, "pidfd-fly") == 0) send_fds(pair[0], "pidfd", &pidfd, 1);
        struct epoll_event ev = {.events = EPOLLIN};
        if (strcmp(mode, "pidfd-epoll") == 0) {
            int ep = epoll_create1(0);
            if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, pidfd, &ev)) fail("epoll");
        }
    }
    if (strcmp(mode, "fork") == 0 || strcmp(mode, "pidfd-fork") == 0 || strcmp(mode, "other") == 0) {
        int sync[2];
        if (pipe(sync)) fail("pipe");
        if (fork() == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (strcmp(mode, "fork") != 0) { /* the pidfd alone is shared; or the child opens its own */
                close(stat);
                close(status);
            }
            snprintf(path, sizeof path, "/proc/%d/task/%d/stat", getppid(), tid);
            if (strcmp(mode, "other") == 0 && open(path, O_RDONLY) < 0) _exit(1);
            if (write(sync[1], "x", 1) != 1) _exit(1);
            for (;;) pause();
        }
        if (read(sync[0], buf, 1) != 1) fail("the child's start");
    }
    printf("ready\n");
    fflush(stdout);
    while (!check) pause();
    why = checkFds(stat, status);
    if (why) { printf("FAIL: %s\n", why); return 1; }
    printf("PASS\n");
    return 0;
}
