/*
 * A program driving a child on a pseudo-terminal, as script(1) or expect do. The parent opens a
 * pty pair (posix_openpt), sets the slave's termios (no echo, no output CR, VERASE ^G), a 33x111
 * window, packet mode and exclusive mode on the master, and keeps the slave open. Its child makes
 * a session with the slave as controlling terminal, opens /dev/tty, and forks a grandchild in a
 * group of its own which it makes the terminal's foreground group. The grandchild answers each
 * line it reads with "echo:<line> fg=<is it the foreground group> sid=<is its session its
 * parent's>". Once the parent has had one answer it locks the pair (no new opens of the slave) and
 * prints ready.
 * On SIGUSR2 the parent checks: same pty index, termios, window size, packet mode, exclusive mode
 * and lock as set; the terminal's session and foreground group (TIOCGSID/TIOCGPGRP on the master)
 * are the child's and the grandchild's; and a line written to the master is answered through the
 * pair. Prints PASS or FAIL: reason, then kills its children.
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
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static volatile sig_atomic_t check;
static void on_usr2(int sig) { (void)sig; check = 1; }

static int master, child = -1, grandchild = -1;

static void fail(const char *why) {
    printf("FAIL: %s (errno %d)\n", why, errno);
    if (child > 0) kill(child, SIGKILL);
    if (grandchild > 0) kill(grandchild, SIGKILL);
    exit(1);
}

/* Sends a line through the master and reads the answer (packet mode: each read starts with a status byte). */
static void ask(const char *line, char *answer, size_t size) {
    if (write(master, line, strlen(line)) != (ssize_t)strlen(line)) fail("write to the master");
    size_t got = 0;
    while (got == 0 || answer[got - 1] != '\n') {
        struct pollfd p = {.fd = master, .events = POLLIN};
        if (poll(&p, 1, 10000) != 1) fail("no answer through the pty within 10 s");
        char buf[256];
        ssize_t n = read(master, buf, sizeof buf);
        if (n <= 0) fail("read from the master");
        if (buf[0] != TIOCPKT_DATA) continue; /* a status packet */
        if (got + n - 1 >= size) fail("answer too long");
        memcpy(answer + got, buf + 1, n - 1);
        got += n - 1;
    }
    answer[got] = 0;
}

static void grandchild_loop(void) {
    char line[128];
    for (;;) {
        ssize_t n = read(0, line, sizeof line - 1);
        if (n <= 0) _exit(1);
        line[n] = 0;
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        dprintf(1, "echo:%s fg=%d sid=%d\n", line, tcgetpgrp(5) == getpgrp(), getsid(0) == getppid());
    }
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
    struct termios t;
    if (tcgetattr(slave, &t) < 0) fail("tcgetattr");
    t.c_lflag &= ~(ECHO | ECHOE | ECHOK);
    t.c_oflag &= ~ONLCR;
    t.c_cc[VERASE] = 7;
    if (tcsetattr(slave, TCSANOW, &t) < 0) fail("tcsetattr");
    struct winsize ws = {.ws_row = 33, .ws_col = 111, .ws_xpixel = 7, .ws_ypixel = 9};
    if (ioctl(master, TIOCSWINSZ, &ws) < 0) fail("TIOCSWINSZ");
    int one = 1;
    if (ioctl(master, TIOCPKT, &one) < 0) fail("TIOCPKT");
    if (ioctl(master, TIOCEXCL) < 0) fail("TIOCEXCL");

    int ready[2];
    if (pipe(ready) < 0) fail("pipe");
    child = fork();
    if (child < 0) fail("fork");
    if (child == 0) {
        close(master);
        close(ready[0]);
        if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0) _exit(2);
        dup2(slave, 0);
        dup2(slave, 1);
        dup2(slave, 2);
        int tty = open("/dev/tty", O_RDWR);
        if (tty < 0 || dup2(tty, 5) < 0) _exit(3);
        close(tty);
        pid_t g = fork();
        if (g < 0) _exit(4);
        if (g == 0) {
            close(ready[1]);
            setpgid(0, 0);
            grandchild_loop();
        }
        setpgid(g, g);
        signal(SIGTTOU, SIG_IGN);
        if (tcsetpgrp(5, g) < 0) _exit(5);
        if (write(ready[1], &g, sizeof g) != sizeof g) _exit(6);
        close(ready[1]);
        for (;;) pause();
    }
    close(ready[1]);
    if (read(ready[0], &grandchild, sizeof grandchild) != sizeof grandchild) fail("the child did not start");
    close(ready[0]);

    char answer[256];
    ask("hello\n", answer, sizeof answer);
    if (strcmp(answer, "echo:hello fg=1 sid=1\n") != 0) fail("first answer");
    if (ioctl(master, TIOCSPTLCK, &one) < 0) fail("TIOCSPTLCK");
    printf("ready\n");
    while (!check) pause();

    char now[64];
    if (ptsname_r(master, now, sizeof now) != 0 || strcmp(now, name) != 0) fail("the pty index changed");
    struct termios r;
    if (tcgetattr(master, &r) < 0) fail("tcgetattr after restore");
    if (r.c_lflag != t.c_lflag || r.c_oflag != t.c_oflag || r.c_iflag != t.c_iflag || r.c_cflag != t.c_cflag
        || memcmp(r.c_cc, t.c_cc, sizeof t.c_cc) != 0) fail("termios differ");
    struct winsize w;
    if (ioctl(master, TIOCGWINSZ, &w) < 0 || w.ws_row != 33 || w.ws_col != 111 || w.ws_xpixel != 7 || w.ws_ypixel != 9)
        fail("window size differs");
    int v = 0;
    if (ioctl(master, TIOCGPKT, &v) < 0 || v != 1) fail("packet mode lost");
    v = 0;
    if (ioctl(master, TIOCGEXCL, &v) < 0 || v != 1) fail("exclusive mode lost");
    v = 0;
    if (ioctl(master, TIOCGPTLCK, &v) < 0 || v != 1) fail("lock lost");
    pid_t sid = 0, fg = 0;
    if (ioctl(master, TIOCGSID, &sid) < 0 || sid != child) fail("the terminal's session is not the child's");
    if (ioctl(master, TIOCGPGRP, &fg) < 0 || fg != grandchild) fail("the foreground group is not the grandchild's");
    ask("ping\n", answer, sizeof answer);
    if (strcmp(answer, "echo:ping fg=1 sid=1\n") != 0) {
        printf("FAIL: answer after restore: %s", answer);
        kill(child, SIGKILL);
        kill(grandchild, SIGKILL);
        return 1;
    }
    printf("PASS index=%s\n", name + 9);
    kill(grandchild, SIGKILL);
    kill(child, SIGKILL);
    return 0;
}
