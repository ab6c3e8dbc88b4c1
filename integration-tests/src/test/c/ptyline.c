/*
 * A program reading its terminal in canonical mode while a line is half typed (issue 8). The
 * parent opens a pty pair with the default termios (ICANON, ECHO, ONLCR), locks the slave's ICANON
 * bit (TIOCSLCKTRMIOS) and gives the slave node another owner and mode 0600 (as `mesg n` would).
 * Its child makes a session on the slave and reads lines from it; after its first line it writes
 * "late\n" to the terminal, reports the line to the parent through a pipe and reads again. The
 * parent types "hello\n", reads its echo, then types "wor" without a newline and leaves the rest
 * unread: the slave's queue holds the half line "wor" (which FIONREAD does not count), the
 * master's queue "late\r\nwor" (the child's output and the echo). Then it prints ready.
 * On SIGUSR2 (after the restore) the parent checks the locked termios and the node, reads the
 * master's queue (exactly "late\r\nwor"), types "ld\n" and expects the child to read "world\n" as
 * one line, once, with the echo "ld\r\n" only (no echo repeated), then "x\n" as the next line.
 * Prints PASS or FAIL: reason, then kills its child.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

static volatile sig_atomic_t check;
static void on_usr2(int sig) { (void)sig; check = 1; }

static int master, report[2];
static pid_t child = -1;

static void fail(const char *why) {
    printf("FAIL: %s (errno %d)\n", why, errno);
    if (child > 0) kill(child, SIGKILL);
    exit(1);
}

/* Reads exactly strlen(want) bytes from fd within 10 s and compares them. */
static void expect(int fd, const char *want, const char *what) {
    char got[256];
    size_t n = strlen(want), have = 0;
    while (have < n) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 10000) != 1) {
            got[have] = 0;
            printf("FAIL: %s: only '%s' within 10 s\n", what, got);
            kill(child, SIGKILL);
            exit(1);
        }
        ssize_t r = read(fd, got + have, n - have);
        if (r <= 0) fail(what);
        have += r;
    }
    got[have] = 0;
    if (memcmp(got, want, n) != 0) {
        printf("FAIL: %s: '%s' instead of '%s'\n", what, got, want);
        kill(child, SIGKILL);
        exit(1);
    }
}

/* The child's next line, as one read() returned it. */
static void expect_line(const char *want) {
    char line[256];
    struct pollfd p = {.fd = report[0], .events = POLLIN};
    if (poll(&p, 1, 10000) != 1) fail("no line read by the child within 10 s");
    ssize_t n = read(report[0], line, sizeof line - 1);
    if (n <= 0) fail("read the report");
    line[n] = 0;
    if (strcmp(line, want) != 0) {
        printf("FAIL: the child read '%s' instead of '%s'\n", line, want);
        kill(child, SIGKILL);
        exit(1);
    }
}

static void type(const char *s) {
    if (write(master, s, strlen(s)) != (ssize_t)strlen(s)) fail("write to the master");
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) fail("posix_openpt");
    char name[64];
    if (ptsname_r(master, name, sizeof name) != 0) fail("ptsname");
    int slave = open(name, O_RDWR | O_NOCTTY);
    if (slave < 0) fail("open the slave");
    struct termios lock;
    memset(&lock, 0, sizeof lock);
    lock.c_lflag = ICANON;
    if (ioctl(slave, TIOCSLCKTRMIOS, &lock) < 0) fail("TIOCSLCKTRMIOS");
    if (fchown(slave, 4321, 5) < 0 || fchmod(slave, 0600) < 0) fail("chown/chmod the slave");
    if (pipe(report) < 0) fail("pipe");
    child = fork();
    if (child < 0) fail("fork");
    if (child == 0) {
        close(master);
        close(report[0]);
        if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0) _exit(2);
        dup2(slave, 0);
        dup2(slave, 1);
        dup2(slave, 2);
        close(slave);
        char line[256];
        for (int first = 1;; first = 0) {
            ssize_t n = read(0, line, sizeof line);
            if (n <= 0) _exit(3);
            if (first && write(1, "late\n", 5) != 5) _exit(4);
            if (write(report[1], line, n) != n) _exit(5);
        }
    }
    close(report[1]);

    type("hello\n");
    expect(master, "hello\r\n", "the echo of hello");
    expect_line("hello\n");
    type("wor");
    /* leave "late\r\nwor" unread on the master: wait until all of it has arrived */
    for (int i = 0;; i++) {
        int n = 0;
        if (ioctl(master, FIONREAD, &n) < 0) fail("FIONREAD");
        if (n == 9) break;
        if (i == 1000) fail("the master's queue never held 9 bytes");
        usleep(10000);
    }
    printf("ready\n");
    while (!check) pause();

    struct termios l;
    if (ioctl(master, TIOCGLCKTRMIOS, &l) < 0 || l.c_lflag != ICANON || l.c_iflag || l.c_oflag || l.c_cflag)
        fail("the locked termios changed");
    struct stat st;
    if (stat(name, &st) < 0 || st.st_uid != 4321 || st.st_gid != 5 || (st.st_mode & 07777) != 0600) {
        printf("FAIL: %s is %o %d:%d\n", name, st.st_mode & 07777, st.st_uid, st.st_gid);
        kill(child, SIGKILL);
        return 1;
    }
    expect(master, "late\r\nwor", "the master's unread bytes");
    type("ld\n");
    expect_line("world\n");
    expect(master, "ld\r\n", "the echo of the rest of the line");
    type("x\n");
    expect_line("x\n");
    expect(master, "x\r\n", "the echo of x");
    printf("PASS\n");
    kill(child, SIGKILL);
    return 0;
}
