/*
 * vtctty — a session leader whose controlling terminal is a virtual console (zdtm's vt: refused before,
 * "terminal ... is open; dump with --shell-job to take the terminal along").
 *
 * Argument: DIR. Makes DIR/vt, a node of /dev/tty23 (4:23), and opens it as the leader of its own
 * session, which makes it the controlling terminal. Prints "skip: <reason>" when the console did not
 * become its terminal (no virtual consoles here, or another session holds it), else "ready". On
 * SIGUSR2 checks that the fd is still that console, that it is still the controlling terminal (stat's
 * tty_nr) with its own group in the foreground, and prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "workload.h"

/* stat's tty_nr of this process. */
static int tty_nr(void)
{
    FILE *f = fopen("/proc/self/stat", "r");
    int nr = -1;
    if (!f || fscanf(f, "%*d (%*[^)]) %*c %*d %*d %*d %d", &nr) != 1) nr = -1;
    if (f) fclose(f);
    return nr;
}

int main(int argc, char **argv)
{
    if (argc < 2) fail("usage: vtctty DIR");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    signal(SIGHUP, SIG_IGN);
    if (getsid(0) != getpid() && setsid() < 0) fail("setsid");
    char node[PATH_MAX];
    snprintf(node, sizeof node, "%s/vt", argv[1]);
    dev_t vt = makedev(4, 23);
    if (mknod(node, S_IFCHR | 0600, vt)) fail("mknod");
    int fd = open(node, O_RDONLY);
    if (fd < 0) {
        printf("skip: no virtual console 4:23 (errno %d)\n", errno);
        return 0;
    }
    if (tty_nr() != (int)((4 << 8) | 23)) {
        printf("skip: 4:23 did not become the controlling terminal (tty_nr %d)\n", tty_nr());
        return 0;
    }
    printf("ready\n");
    while (!check) pause();
    struct stat st;
    if (fstat(fd, &st) || st.st_rdev != vt) { printf("FAIL: the fd is no longer 4:23\n"); return 1; }
    if (tty_nr() != (int)((4 << 8) | 23)) { printf("FAIL: the controlling terminal is %d, not 4:23\n", tty_nr()); return 1; }
    if (tcgetpgrp(fd) != getpgrp()) { printf("FAIL: foreground group %d, not %d\n", tcgetpgrp(fd), getpgrp()); return 1; }
    printf("PASS\n");
    return 0;
}
