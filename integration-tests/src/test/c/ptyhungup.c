/*
 * A program that outlived its terminal: it leads a session on a pty slave (its controlling
 * terminal), holds two more open files of that slave (one non-blocking, one a dup), ignores SIGHUP
 * and closes the master, the last one: the kernel hangs the slave up (reads give end of file,
 * writes EIO, poll POLLHUP), drops the controlling terminal and removes the node. Prints "ready".
 * On SIGUSR2 it checks every file is still hung up the same way, with its flags, the dup still the
 * same open file and the other one not, the link still a removed /dev/pts node, and still no
 * controlling terminal. Prints PASS or FAIL: reason. With "own" it first makes a mount namespace
 * and mounts a devpts instance of its own on /dev/pts, where /dev/ptmx then opens its pairs (zdtm
 * pty04 in the ns flavor).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KCMP_FILE 0
static volatile sig_atomic_t check;
static void on_usr2(int sig) { (void)sig; check = 1; }

static void fail(const char *why) {
    printf("FAIL: %s (errno %d)\n", why, errno);
    exit(1);
}

static int same_file(int a, int b) {
    return syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, a, b) == 0;
}

/* Every check of a hung-up slave; returns NULL or what differs. */
static const char *hung_up(int ctty, int other, int dup) {
    char c, link[256];
    ssize_t n = readlink("/proc/self/fd/10", link, sizeof link - 1);
    if (n < 0) return "readlink";
    link[n] = 0;
    if (strncmp(link, "/dev/pts/", 9) || !strstr(link, " (deleted)")) return "the slave's link is not a removed /dev/pts node";
    if (read(ctty, &c, 1) != 0) return "a read does not give end of file";
    errno = 0;
    if (write(other, "x", 1) != -1 || errno != EIO) return "a write does not fail with EIO";
    struct pollfd p = {.fd = dup, .events = POLLIN};
    if (poll(&p, 1, 0) != 1 || !(p.revents & POLLHUP)) return "poll does not say POLLHUP";
    if (!(fcntl(other, F_GETFL) & O_NONBLOCK) || (fcntl(ctty, F_GETFL) & O_NONBLOCK)) return "O_NONBLOCK moved";
    if (!same_file(ctty, dup)) return "the dup is not the same open file any more";
    if (same_file(ctty, other)) return "two open files became one";
    if (open("/dev/tty", O_RDWR) >= 0 || errno != ENXIO) return "a controlling terminal came back";
    return NULL;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && !strcmp(argv[1], "own") && (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)
            || mount("devpts", "/dev/pts", "devpts", 0, "newinstance,ptmxmode=0666,mode=0620"))) {
        fail("a devpts instance of its own");
    }
    signal(SIGHUP, SIG_IGN);
    signal(SIGUSR2, on_usr2);
    if (setsid() < 0 && getsid(0) != getpid()) fail("setsid");
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0 || grantpt(m) || unlockpt(m)) fail("posix_openpt");
    char *name = ptsname(m);
    int ctty = open(name, O_RDWR); /* a session leader without a terminal: it becomes the controlling one */
    int other = open(name, O_RDWR | O_NONBLOCK | O_NOCTTY);
    if (ctty < 0 || other < 0) fail("open the slave");
    if (dup2(ctty, 10) != 10 || dup2(other, 11) != 11 || dup2(ctty, 12) != 12) fail("dup2");
    close(ctty);
    close(other);
    if (close(m)) fail("close the master");
    const char *why = hung_up(10, 11, 12);
    if (why) fail(why);
    printf("ready\n");
    while (!check) pause();
    why = hung_up(10, 11, 12);
    if (why) fail(why);
    printf("PASS\n");
    return 0;
}
