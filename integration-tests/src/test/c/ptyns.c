/*
 * A container's terminals: an init in new pid, mount, net, ipc and uts namespaces, its root pivoted
 * to ROOT (a host directory holding this static binary and empty proc and dev/pts), with its own
 * /proc and its own devpts instance (newinstance, ptmxmode=0666), as systemd-nspawn, lxc or podman -t
 * give their programs ptys. Run on the host as `ptyns ROOT`: prints "init PID" (the init's pid as the
 * host sees it) once the init is ready, and exits.
 * Its /dev/ptmx is a bind of the instance's ptmx, as lxc makes it. The init opens pty 0 of its instance and forks a shell-like session leader whose controlling
 * terminal is its slave (its stdin, stdout and stderr, and /dev/tty), blocked reading a line and
 * answering each with what it sees of its terminal. It opens pty 1 and pty 2 and closes pty 1 (a gap
 * below), and leaves in pty 2 a line typed and unread by its slave, a line the slave wrote and the
 * master has not read, echo off, a 33x99 window and the slave's node 0620 root:5; pty 0 through
 * /dev/pts/ptmx, the others through /dev/ptmx (their links show which).
 * On SIGUSR2 the init checks each (indexes, instance, links, queues, modes, window, node) and asks the
 * shell through pty 0 whether it still leads its session on that terminal in the foreground; prints
 * PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static volatile sig_atomic_t check;
static void on_usr2(int sig) { (void)sig; check = 1; }
static const char *root;
static int ready[2];
static pid_t shell = -1;

static void fail(const char *why) {
    printf("FAIL: %s (errno %d)\n", why, errno);
    fflush(stdout);
    if (shell > 0) kill(shell, SIGKILL);
    exit(1);
}

#include "pivotroot.h"

/* the container's root, with its own devpts instance and a /dev/tty */
static void pivot(void) {
    pivot_root_to(root);
    if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5"))
        fail("mount devpts");
    close(open("/dev/ptmx", O_CREAT | O_WRONLY, 0666)); /* as lxc makes it: a bind of the instance's ptmx */
    if (mount("/dev/pts/ptmx", "/dev/ptmx", NULL, MS_BIND, NULL)) fail("bind /dev/ptmx");
    unlink("/dev/tty");
    if (mknod("/dev/tty", S_IFCHR | 0666, makedev(5, 0))) fail("mknod /dev/tty");
    if (chdir("/")) fail("chdir /");
}

static int open_master(const char *ptmx, int want) {
    int m = open(ptmx, O_RDWR | O_NOCTTY);
    int index = -1;
    if (m < 0 || ioctl(m, TIOCGPTN, &index) || index != want) fail(ptmx);
    int unlock = 0;
    if (ioctl(m, TIOCSPTLCK, &unlock)) fail("unlockpt");
    return m;
}

/* reads from fd until a line starting with prefix ends, within 10 s; returns that line */
static void read_line(int fd, const char *prefix, char *line, size_t size) {
    char buf[1024];
    size_t got = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 10000) != 1) fail("no answer from the shell within 10 s");
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n <= 0) fail("read the shell's answer");
        got += n;
        buf[got] = 0;
        char *at = strstr(buf, prefix), *end = at ? strchr(at, '\n') : NULL;
        if (end) {
            *end = 0;
            if (end > at && end[-1] == '\r') end[-1] = 0;
            snprintf(line, size, "%s", at);
            return;
        }
        if (got >= sizeof buf - 1) fail("answer too long");
    }
}

/* the session leader: its terminal is the slave of pty 0; answers each line it reads */
static void shell_loop(void) {
    setsid();
    int t = open("/dev/pts/0", O_RDWR); /* no O_NOCTTY: it becomes the controlling terminal */
    if (t < 0) _exit(2);
    dup2(t, 0), dup2(t, 1), dup2(t, 2);
    if (t > 2) close(t);
    int tty = open("/dev/tty", O_RDWR);
    char line[256], answer[512], name[64];
    for (;;) {
        ssize_t n = read(0, line, sizeof line - 1);
        if (n <= 0) _exit(3);
        line[n] = 0;
        ssize_t l = readlink("/proc/self/fd/0", name, sizeof name - 1);
        name[l > 0 ? l : 0] = 0;
        const char *bad = tty < 0 ? "no /dev/tty" : getsid(0) != getpid() ? "not a session leader"
            : tcgetsid(0) != getpid() ? "its terminal is not its session's" : tcgetpgrp(0) != getpid() ? "not the foreground"
            : tcgetpgrp(tty) != getpid() ? "/dev/tty is not its terminal" : strcmp(name, "/dev/pts/0") ? name : NULL;
        int len = snprintf(answer, sizeof answer, bad ? "SHELL-FAIL %s\n" : "SHELL-OK\n", bad);
        if (write(1, answer, len) != len) _exit(4);
    }
}

static int init(void) {
    char line[512];
    signal(SIGUSR2, on_usr2);
    int a = open_master("/dev/pts/ptmx", 0);
    shell = fork();
    if (shell == 0) {
        close(a);
        shell_loop();
    }
    if (write(a, "hello\n", 6) != 6) fail("write to pty 0");
    read_line(a, "SHELL-", line, sizeof line);
    if (strcmp(line, "SHELL-OK")) fail(line);

    int gap = open_master("/dev/ptmx", 1), b = open_master("/dev/ptmx", 2);
    close(gap);
    int s = open("/dev/pts/2", O_RDWR | O_NOCTTY | O_NONBLOCK);
    if (s < 0) fail("open /dev/pts/2");
    struct termios tio;
    if (tcgetattr(s, &tio)) fail("tcgetattr");
    tio.c_lflag &= ~ECHO;
    if (tcsetattr(s, TCSANOW, &tio)) fail("tcsetattr");
    struct winsize w = {.ws_row = 33, .ws_col = 99};
    if (ioctl(b, TIOCSWINSZ, &w)) fail("TIOCSWINSZ");
    if (chown("/dev/pts/2", 0, 5) || chmod("/dev/pts/2", 0620)) fail("chmod /dev/pts/2");
    if (write(b, "to-slave\n", 9) != 9 || write(s, "from-slave\n", 11) != 11) fail("fill pty 2");
    for (int i = 0; i < 1000; i++) { /* the line reaches the slave's queue */
        int q = 0;
        if (ioctl(s, FIONREAD, &q) == 0 && q == 9) break;
        usleep(1000);
    }
    if (write(ready[1], "r", 1) != 1) fail("ready");
    close(ready[1]);

    while (!check) pause();
    int index = -1;
    if (ioctl(a, TIOCGPTN, &index) || index != 0) fail("pty 0 has another index");
    if (ioctl(b, TIOCGPTN, &index) || index != 2) fail("pty 2 has another index");
    struct stat st, ptmx;
    if (fstat(s, &st) || stat("/dev/pts/ptmx", &ptmx)) fail("stat");
    if (st.st_dev != ptmx.st_dev || st.st_rdev != makedev(136, 2)) fail("the slave is not pty 2 of the instance");
    if (stat("/dev/pts/2", &st) || (st.st_mode & 07777) != 0620 || st.st_uid != 0 || st.st_gid != 5)
        fail("the node of pty 2 lost its mode or owner");
    char name[64];
    snprintf(line, sizeof line, "/proc/self/fd/%d", s);
    ssize_t l = readlink(line, name, sizeof name - 1);
    name[l > 0 ? l : 0] = 0;
    if (strcmp(name, "/dev/pts/2")) fail("the slave's link");
    snprintf(line, sizeof line, "/proc/self/fd/%d", b);
    l = readlink(line, name, sizeof name - 1);
    name[l > 0 ? l : 0] = 0;
    if (strcmp(name, "/dev/ptmx")) fail("the link of pty 2's master (opened through /dev/ptmx)");
    snprintf(line, sizeof line, "/proc/self/fd/%d", a);
    l = readlink(line, name, sizeof name - 1);
    name[l > 0 ? l : 0] = 0;
    if (strcmp(name, "/dev/pts/ptmx")) fail("the link of pty 0's master (opened through /dev/pts/ptmx)");
    if (ioctl(s, TIOCGWINSZ, &w) || w.ws_row != 33 || w.ws_col != 99) fail("the window size");
    if (tcgetattr(s, &tio) || (tio.c_lflag & ECHO) || !(tio.c_lflag & ICANON)) fail("the termios");
    char got[64] = {0};
    if (read(s, got, sizeof got - 1) != 9 || strcmp(got, "to-slave\n")) fail("the slave's unread line");
    read_line(b, "from-slave", line, sizeof line);
    pid_t sid = -1;
    if (ioctl(a, TIOCGSID, &sid) || sid != shell) fail("pty 0 is not the shell's session's terminal");
    if (write(a, "check\n", 6) != 6) fail("write to pty 0");
    read_line(a, "SHELL-", line, sizeof line);
    if (strcmp(line, "SHELL-OK")) fail(line);
    kill(shell, SIGKILL);
    waitpid(shell, NULL, 0);
    printf("PASS\n");
    fflush(stdout);
    return 0;
}

static char stack[1 << 16];

/* the clone: pivots and execs this program from the new root, as a container runtime does */
static int born(void *arg) {
    (void)arg;
    close(ready[0]);
    pivot();
    if (dup2(ready[1], 255) != 255 || close(ready[1])) fail("dup2");
    execl("/ptyns", "ptyns", "init", NULL);
    fail("exec /ptyns init");
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    if (!strcmp(argv[1], "init")) {
        ready[1] = 255;
        return init();
    }
    root = argv[1];
    if (pipe(ready)) fail("pipe");
    pid_t pid = clone(born, stack + sizeof stack, CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWNET
                      | CLONE_NEWIPC | SIGCHLD, NULL);
    if (pid < 0) fail("clone");
    close(ready[1]);
    char c;
    if (read(ready[0], &c, 1) != 1) fail("the init died before it was ready");
    printf("init %d\n", pid);
    fflush(stdout);
    return 0;
}
