/*
 * Files of kinds the other in-flight workloads do not pass, each in an unread message of a datagram pair and
 * closed by the task (only the message holds it): an armed timerfd (100 s, every 7 s), a signalfd for SIGUSR1, an
 * inotify watching a directory for IN_CREATE, a memfd holding "memfd-data" at offset 3, a pidfd of a child, a file
 * of the cwd at offset 2, a UDP socket bound on 127.0.0.1, a TCP listener on 127.0.0.1 and the task's own
 * /proc/self/ns/net. On SIGUSR2 it receives them and checks each is what it passed: PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"
#include "scmfds.h"

static int bound(int type, struct sockaddr_in *a) {
    socklen_t len = sizeof *a;
    int s = socket(AF_INET, type, 0);
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0 || bind(s, (struct sockaddr *)a, sizeof *a) || getsockname(s, (struct sockaddr *)a, &len)) fail("bind");
    return s;
}

static void pass(int pair, const char *name, int fd) {
    if (fd < 0) fail(name);
    send_fds(pair, name, &fd, 1);
    close(fd);
}

static int take(int pair, const char *name) {
    char msg[64];
    int fd = -1;
    if (recv_fds(pair, msg, sizeof msg, &fd, NULL) != 1) { printf("FAIL: %s came without its file\n", name); exit(1); }
    expect("message", msg, name);
    return fd;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, pair)) fail("socketpair");
    int big = 1 << 20;
    setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);

    int t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct itimerspec it = {{7, 0}, {100, 0}};
    if (t < 0 || timerfd_settime(t, 0, &it, NULL)) fail("timerfd");
    pass(pair[0], "timerfd", t);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    pass(pair[0], "signalfd", signalfd(-1, &usr1, SFD_NONBLOCK));
    int in = inotify_init1(IN_NONBLOCK);
    /* a directory of its own: the dump makes its image directory in the cwd, an event the watch would hold */
    if (in < 0 || mkdir("watched", 0700) || inotify_add_watch(in, "watched", IN_CREATE) < 0) fail("inotify");
    pass(pair[0], "inotify", in);
    int m = memfd_create("flykinds", 0);
    if (m < 0 || write(m, "memfd-data", 10) != 10 || lseek(m, 3, SEEK_SET) != 3) fail("memfd");
    pass(pair[0], "memfd", m);
    pid_t child = fork();
    if (child == 0) { for (;;) pause(); }
    pass(pair[0], "pidfd", (int)syscall(SYS_pidfd_open, child, 0));
    int f = open("flykinds.data", O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (f < 0 || write(f, "0123456789", 10) != 10 || lseek(f, 2, SEEK_SET) != 2) fail("file");
    pass(pair[0], "file", f);
    struct sockaddr_in ua, ta;
    pass(pair[0], "udp", bound(SOCK_DGRAM, &ua));
    int l = bound(SOCK_STREAM, &ta);
    if (listen(l, 4)) fail("listen");
    pass(pair[0], "tcp", l);
    struct stat netns;
    if (stat("/proc/self/ns/net", &netns)) fail("stat netns");
    pass(pair[0], "netns", open("/proc/self/ns/net", O_RDONLY));
    printf("ready\n");
    while (!check) pause();

    t = take(pair[1], "timerfd");
    struct itimerspec now;
    if (timerfd_gettime(t, &now) || now.it_interval.tv_sec != 7 || now.it_value.tv_sec < 1 || now.it_value.tv_sec > 100) {
        printf("FAIL: timerfd interval %ld value %ld\n", (long)now.it_interval.tv_sec, (long)now.it_value.tv_sec);
        return 1;
    }
    int sfd = take(pair[1], "signalfd");
    raise(SIGUSR1);
    struct signalfd_siginfo si;
    if (read(sfd, &si, sizeof si) != sizeof si || si.ssi_signo != SIGUSR1) fail("signalfd does not read SIGUSR1");
    in = take(pair[1], "inotify");
    int probe = open("watched/new", O_WRONLY | O_CREAT, 0600);
    char ev[512];
    usleep(10000);
    ssize_t n = read(in, ev, sizeof ev);
    int seen = 0;
    for (char *e = ev; probe >= 0 && n > 0 && e < ev + n; e += sizeof(struct inotify_event) + ((struct inotify_event *)e)->len)
        seen |= ((struct inotify_event *)e)->len && strcmp(((struct inotify_event *)e)->name, "new") == 0;
    if (!seen) fail("inotify does not see the new file of its directory");
    m = take(pair[1], "memfd");
    char buf[16] = {0};
    if (read(m, buf, sizeof buf - 1) != 7) fail("memfd read");
    expect("memfd from its offset", buf, "fd-data");
    int pfd = take(pair[1], "pidfd");
    if (syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0)) fail("pidfd_send_signal");
    if (waitpid(child, NULL, 0) != child) fail("the pidfd's child was not killed through it");
    f = take(pair[1], "file");
    memset(buf, 0, sizeof buf);
    if (read(f, buf, 3) != 3) fail("file read");
    expect("file from its offset", buf, "234");
    int u = take(pair[1], "udp");
    struct sockaddr_in got;
    socklen_t len = sizeof got;
    if (getsockname(u, (struct sockaddr *)&got, &len) || got.sin_port != ua.sin_port) fail("udp port");
    int c = socket(AF_INET, SOCK_DGRAM, 0);
    if (sendto(c, "dg", 2, 0, (struct sockaddr *)&ua, sizeof ua) != 2 || recv(u, buf, sizeof buf, 0) != 2) fail("udp datagram");
    l = take(pair[1], "tcp");
    c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&ta, sizeof ta) || accept(l, NULL, NULL) < 0) fail("tcp listener does not accept");
    int ns = take(pair[1], "netns");
    struct stat st;
    if (fstat(ns, &st) || st.st_ino != netns.st_ino) fail("netns fd names another namespace");
    printf("PASS\n");
    return 0;
}
