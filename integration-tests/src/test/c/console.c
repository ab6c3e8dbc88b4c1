/*
 * zdtm's console: the system console (5:1) held open through a node made with mknod in DIR, once for
 * reading and once for writing without blocking, by a session leader without a controlling terminal.
 * cryo refused it as a terminal without --shell-job. On SIGUSR2 checks each fd: the console device, the
 * node it was opened by (its fd link), the same open flags; and that the console did not become the
 * process's controlling terminal. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "workload.h"

static void expect(int fd, const char *path, int flags) {
    struct stat st;
    char why[4400], link[64], got[4096];
    if (fstat(fd, &st)) fail("fstat");
    if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 || minor(st.st_rdev) != 1) {
        snprintf(why, sizeof why, "fd %d: not the console 5:1 but %u:%u (mode 0%o)", fd, major(st.st_rdev),
                 minor(st.st_rdev), st.st_mode);
        fail(why);
    }
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, got, sizeof got - 1);
    got[len < 0 ? 0 : len] = 0;
    if (strcmp(got, path)) {
        snprintf(why, sizeof why, "fd %d: link %.2000s, expected %.2000s", fd, got, path);
        fail(why);
    }
    int fl = fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK | O_APPEND);
    if (fl != flags) {
        snprintf(why, sizeof why, "fd %d: flags 0%o, expected 0%o", fd, fl, flags);
        fail(why);
    }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) fail("usage: console DIR");
    signal(SIGUSR2, on_usr2);
    char dir[4000], path[4096];
    if (!realpath(argv[1], dir)) fail("realpath");
    snprintf(path, sizeof path, "%s/console", dir);
    if (setsid() < 0 && getsid(0) != getpid()) fail("setsid");
    if (mknod(path, S_IFCHR | 0600, makedev(5, 1))) fail("mknod");
    int r = open(path, O_RDONLY), w = open(path, O_WRONLY | O_NONBLOCK);
    if (r < 0 || w < 0) fail("open");
    expect(r, path, O_RDONLY);
    expect(w, path, O_WRONLY | O_NONBLOCK);
    printf("ready\n");
    while (!check) pause();
    expect(r, path, O_RDONLY);
    expect(w, path, O_WRONLY | O_NONBLOCK);
    int tty = -1;
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f || fscanf(f, "%*d (%*[^)]) %*c %*d %*d %*d %d", &tty) != 1) fail("read tty_nr");
    if (tty != 0) {
        printf("FAIL: the console became the controlling terminal (tty_nr %d)\n", tty);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
