/*
 * fds the way programs hold them beyond the plain ones: numbers above 1024 (a pipe at 999 and
 * 1200, an epoll at 1500 watching fd 999), a file open O_APPEND, one O_NONBLOCK|O_NOATIME with a
 * position, one O_DIRECT, an O_PATH fd, a directory, /proc and /sys files (reopened by path), and
 * /proc/pressure/memory with a pressure-stall trigger set on it (as systemd-oomd sets one; a threshold never
 * reached, so no event waits at the dump), and /proc/self/mountinfo with a mount change it has not polled yet (a
 * tmpfs mounted on DIR/m and unmounted after its last poll: findmnt --poll or systemd frozen before they woke), and
 * /proc/sys/kernel/hostname with a change it has not polled yet (an empty write, which changes nothing: journald).
 * Argument: a directory for the data file. On SIGUSR2 it checks that every fd is at its number
 * with its flags, position and file, the epoll set still reports fd 999 ready with its data, and
 * the /proc and /sys files read as freshly opened ones do, the pressure file still holds a trigger (poll does
 * not say POLLERR, a second one is refused with EBUSY), the mount table's and hostname's polls say the change; prints PASS or
 * FAIL: reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

enum { PIPE_R = 999, PIPE_W = 1200, EPOLL = 1500, APPEND = 1100, NONBLOCK = 1101, DIRECT = 1102, OPATH = 1103,
       DIR_FD = 1104, PROC = 1105, PROCSYS = 1106, SYS = 1107, PSI = 1108, MOUNTS = 1109,
       HOSTNAME = 1110 };
static const int all[] = {PIPE_R, PIPE_W, EPOLL, APPEND, NONBLOCK, DIRECT, OPATH, DIR_FD, PROC, PROCSYS, SYS, PSI, MOUNTS, HOSTNAME};
static const char TRIGGER[] = "full 1900000 2000000"; /* 95 % of 2 s: a window of 2 s is allowed without privilege */
#define N (int)(sizeof all / sizeof all[0])
static int flags[N];
static int has_direct, has_psi;

static void place(int fd, int at, const char *what) {
    if (fd < 0) fail(what);
    if (fd != at) {
        int cloexec = fcntl(fd, F_GETFD) & FD_CLOEXEC;
        if (dup3(fd, at, cloexec ? O_CLOEXEC : 0) != at) fail(what);
        close(fd);
    }
}

static void same_contents(int fd, const char *path) {
    char a[512] = {0}, b[512] = {0};
    int fresh = open(path, O_RDONLY);
    if (fresh < 0) fail(path);
    ssize_t n = pread(fd, a, sizeof a - 1, 0), m = read(fresh, b, sizeof b - 1);
    close(fresh);
    if (n <= 0 || n != m || memcmp(a, b, n) != 0) {
        printf("FAIL: %s reads differently through the kept fd\n", path);
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: fdkinds DIR");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) fail("setrlimit");

    int p[2];
    if (pipe(p) < 0) fail("pipe");
    place(p[0], PIPE_R, "pipe read end");
    place(p[1], PIPE_W, "pipe write end");
    if (write(PIPE_W, "abc", 3) != 3) fail("pipe write");
    place(epoll_create1(EPOLL_CLOEXEC), EPOLL, "epoll");
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x999};
    if (epoll_ctl(EPOLL, EPOLL_CTL_ADD, PIPE_R, &ev) < 0) fail("epoll_ctl");

    char data[4096];
    snprintf(data, sizeof data, "%s/data", argv[1]);
    int w = open(data, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (w < 0 || write(w, "hello", 5) != 5) fail("data file");
    close(w);
    struct stat orig;
    stat(data, &orig);
    place(open(data, O_WRONLY | O_APPEND), APPEND, "O_APPEND");
    place(open(data, O_RDONLY | O_NONBLOCK | O_NOATIME), NONBLOCK, "O_NONBLOCK|O_NOATIME");
    if (lseek(NONBLOCK, 2, SEEK_SET) != 2) fail("lseek");
    int d = open(data, O_RDONLY | O_DIRECT);
    has_direct = d >= 0;
    place(has_direct ? d : open("/dev/null", O_RDONLY), DIRECT, "O_DIRECT");
    place(open(data, O_PATH), OPATH, "O_PATH");
    place(open(argv[1], O_RDONLY | O_DIRECTORY), DIR_FD, "directory");
    place(open("/proc/self/status", O_RDONLY), PROC, "/proc/self/status");
    place(open("/proc/sys/kernel/pid_max", O_RDONLY), PROCSYS, "/proc/sys/kernel/pid_max");
    place(open("/sys/devices/system/cpu/online", O_RDONLY), SYS, "/sys/devices/system/cpu/online");
    int psi = open("/proc/pressure/memory", O_RDWR | O_NONBLOCK); /* a kernel without PSI: skipped */
    has_psi = psi >= 0 && write(psi, TRIGGER, sizeof TRIGGER) == sizeof TRIGGER;
    place(has_psi ? psi : open("/dev/null", O_RDONLY), PSI, "/proc/pressure/memory");
    place(open("/proc/self/mountinfo", O_RDONLY), MOUNTS, "/proc/self/mountinfo");
    struct pollfd mp = {.fd = MOUNTS, .events = POLLPRI};
    if (poll(&mp, 1, 0) < 0) fail("poll mountinfo");
    char m[4096];
    snprintf(m, sizeof m, "%s/m", argv[1]);
    if (mkdir(m, 0700) < 0 || mount("none", m, "tmpfs", 0, NULL) < 0 || umount(m) < 0) fail("a mount change");
    place(open("/proc/sys/kernel/hostname", O_RDONLY), HOSTNAME, "/proc/sys/kernel/hostname");
    int hw = open("/proc/sys/kernel/hostname", O_WRONLY);
    if (hw < 0 || write(hw, "", 0) != 0) fail("an empty write to /proc/sys/kernel/hostname");
    close(hw);
    for (int i = 0; i < N; i++) flags[i] = fcntl(all[i], F_GETFL);
    printf("ready\n");
    while (!check) pause();

    for (int i = 0; i < N; i++) {
        int now = fcntl(all[i], F_GETFL);
        if (now != flags[i]) {
            printf("FAIL: fd %d has flags 0%o, had 0%o\n", all[i], now, flags[i]);
            return 1;
        }
    }
    if (!(fcntl(EPOLL, F_GETFD) & FD_CLOEXEC)) fail("epoll lost FD_CLOEXEC");
    struct epoll_event got;
    if (epoll_wait(EPOLL, &got, 1, 1000) != 1 || got.data.u64 != 0x999) fail("epoll does not report fd 999");
    char buf[8] = {0};
    if (read(PIPE_R, buf, 3) != 3 || memcmp(buf, "abc", 3) != 0) fail("pipe at 999 lost its bytes");
    if (write(PIPE_W, "z", 1) != 1 || read(PIPE_R, buf, 1) != 1 || buf[0] != 'z') fail("pipe 1200 -> 999");

    struct stat st;
    if (fstat(APPEND, &st) < 0 || st.st_ino != orig.st_ino) fail("O_APPEND fd is another file");
    if (write(APPEND, "!", 1) != 1) fail("append write");
    if (lseek(NONBLOCK, 0, SEEK_CUR) != 2) fail("O_NONBLOCK fd lost its position");
    if (read(NONBLOCK, buf, 4) != 4 || memcmp(buf, "llo!", 4) != 0) fail("appended byte not at the end");
    if (fstat(OPATH, &st) < 0 || st.st_ino != orig.st_ino) fail("O_PATH fd is another file");
    if (read(OPATH, buf, 1) != -1 || errno != EBADF) fail("O_PATH fd can read");
    if (fstat(DIR_FD, &st) < 0 || !S_ISDIR(st.st_mode)) fail("directory fd");
    int again = openat(DIR_FD, "data", O_RDONLY);
    if (again < 0 || fstat(again, &st) < 0 || st.st_ino != orig.st_ino) fail("openat through the directory fd");
    close(again);
    char mine[64];
    snprintf(mine, sizeof mine, "\nPid:\t%d\n", getpid());
    char status[4096] = {0};
    if (pread(PROC, status, sizeof status - 1, 0) <= 0 || !strstr(status, mine)) fail("/proc/self/status");
    same_contents(PROCSYS, "/proc/sys/kernel/pid_max");
    same_contents(SYS, "/sys/devices/system/cpu/online");
    if (has_psi) {
        struct pollfd pf = {.fd = PSI, .events = POLLPRI};
        if (poll(&pf, 1, 0) < 0 || (pf.revents & POLLERR)) fail("the pressure file holds no trigger (poll: POLLERR)");
        if (write(PSI, TRIGGER, sizeof TRIGGER) != -1 || errno != EBUSY) fail("a second trigger was taken");
    }
    struct pollfd mc = {.fd = MOUNTS, .events = POLLPRI};
    if (poll(&mc, 1, 0) != 1 || !(mc.revents & POLLPRI)) fail("the mount change not polled before the dump is not seen");
    struct pollfd hc = {.fd = HOSTNAME, .events = POLLPRI};
    if (poll(&hc, 1, 0) != 1 || !(hc.revents & POLLPRI)) fail("the hostname change not polled before the dump is not seen");
    printf("PASS direct=%d psi=%d\n", has_direct, has_psi);
    return 0;
}
