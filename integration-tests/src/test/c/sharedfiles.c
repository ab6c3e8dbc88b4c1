/*
 * Open file descriptions shared across processes and within one (fork, dup): a regular file with
 * a position, an eventfd, a timerfd, a signalfd and an epoll set watching the eventfd, all opened
 * by the parent before it forks a child, plus a dup of the file in the parent. Argument: a
 * directory for the data file. The child serves commands on a pipe. On SIGUSR2 the parent checks
 * with kcmp(KCMP_FILE) that every fd is still the same open file in both processes (and the dup
 * the same as the original), then that they behave as one: the child sees the position the parent
 * moved to and the O_NONBLOCK it set, an event the child writes wakes the parent's epoll and is read
 * from the shared eventfd; prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define KCMP_FILE 0

static volatile sig_atomic_t check;
static void on_usr2(int sig) { (void)sig; check = 1; }

static pid_t child;
static int file, dupped, efd, tfd, sfd, ep, cmd[2], reply[2];

static void fail(const char *why) {
    printf("FAIL: %s (errno %d)\n", why, errno);
    if (child > 0) kill(child, SIGKILL);
    exit(1);
}

static long ask(char c) {
    long v = 0;
    if (write(cmd[1], &c, 1) != 1 || read(reply[0], &v, sizeof v) != sizeof v) fail("child does not answer");
    return v;
}

static void serve(void) {
    signal(SIGUSR2, SIG_IGN);
    for (;;) {
        char c;
        if (read(cmd[0], &c, 1) != 1) _exit(1);
        long v = -1;
        if (c == 'p') v = lseek(file, 0, SEEK_CUR);
        if (c == 'n') v = fcntl(file, F_GETFL) & O_NONBLOCK ? 1 : 0;
        if (c == 'e') { uint64_t one = 1; v = write(efd, &one, sizeof one); }
        if (write(reply[1], &v, sizeof v) != sizeof v) _exit(1);
        if (c == 'q') _exit(0);
    }
}

static int same(pid_t a, int fa, pid_t b, int fb) {
    return syscall(SYS_kcmp, a, b, KCMP_FILE, fa, fb) == 0;
}

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: sharedfiles DIR");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    char path[4096];
    snprintf(path, sizeof path, "%s/shared", argv[1]);
    file = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (file < 0 || write(file, "0123456789", 10) != 10 || lseek(file, 3, SEEK_SET) != 3) fail("data file");
    dupped = dup(file);
    efd = eventfd(0, EFD_NONBLOCK);
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct itimerspec its = {{0, 20 * 1000 * 1000}, {0, 20 * 1000 * 1000}};
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    sfd = signalfd(-1, &usr1, SFD_NONBLOCK);
    ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0xe7};
    if (efd < 0 || tfd < 0 || sfd < 0 || ep < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0
            || epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) < 0) fail("event objects");
    if (pipe(cmd) < 0 || pipe(reply) < 0) fail("pipes");
    child = fork();
    if (child == 0) serve();
    if (child < 0) fail("fork");
    if (ask('p') != 3) fail("child position before the dump");
    printf("ready\n");
    while (!check) pause();

    int fds[] = {file, efd, tfd, sfd, ep};
    const char *names[] = {"file", "eventfd", "timerfd", "signalfd", "epoll"};
    for (int i = 0; i < 5; i++) {
        if (!same(getpid(), fds[i], child, fds[i])) {
            printf("FAIL: the %s is no longer shared with the child\n", names[i]);
            kill(child, SIGKILL);
            return 1;
        }
    }
    if (!same(getpid(), file, getpid(), dupped)) fail("the dup is another open file");
    if (lseek(file, 7, SEEK_SET) != 7 || ask('p') != 7) fail("the child does not see the parent's position");
    if (lseek(dupped, 0, SEEK_CUR) != 7) fail("the dup does not share the position");
    fcntl(file, F_SETFL, O_NONBLOCK);
    if (ask('n') != 1) fail("the child does not see the parent's O_NONBLOCK");
    if (ask('e') != 8) fail("the child cannot write the eventfd");
    struct epoll_event got;
    if (epoll_wait(ep, &got, 1, 1000) != 1 || got.data.u64 != 0xe7) fail("the child's event does not wake the epoll");
    uint64_t n;
    if (read(efd, &n, sizeof n) != sizeof n || n != 1) fail("eventfd count");
    usleep(50 * 1000);
    if (read(tfd, &n, sizeof n) != sizeof n || n < 1) fail("the shared timerfd does not fire");
    ask('q');
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) fail("child exit");
    printf("PASS\n");
    return 0;
}
