/*
 * An fd of a symlink itself, opened with O_PATH | O_NOFOLLOW (zdtm's symlink: refused as an unknown
 * file). Argument: DIR. DIR/target is a file, DIR/link a symlink to it. Prints "ready" and waits
 * for SIGUSR2, then checks that the fd is still the symlink (fstat says a link, of the same inode),
 * that readlinkat through it reads DIR/target, and that its flags still hold O_PATH. Prints PASS or
 * FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: symlinkfd DIR");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    char target[PATH_MAX], link[PATH_MAX];
    snprintf(target, sizeof target, "%s/target", argv[1]);
    snprintf(link, sizeof link, "%s/link", argv[1]);
    int f = creat(target, 0644);
    if (f < 0) fail("creat");
    close(f);
    if (symlink(target, link)) fail("symlink");
    int fd = open(link, O_PATH | O_NOFOLLOW);
    if (fd < 0) fail("open O_PATH|O_NOFOLLOW");
    struct stat before;
    if (fstat(fd, &before) || !S_ISLNK(before.st_mode)) fail("not a symlink before the dump");
    printf("ready\n");
    while (!check) pause();

    struct stat after;
    if (fstat(fd, &after)) fail("fstat");
    if (!S_ISLNK(after.st_mode)) { printf("FAIL: the fd is no longer the symlink (mode 0%o)\n", after.st_mode); return 1; }
    if (after.st_ino != before.st_ino) fail("another symlink");
    char buf[PATH_MAX];
    ssize_t n = readlinkat(fd, "", buf, sizeof buf - 1);
    if (n < 0) fail("readlinkat");
    buf[n] = 0;
    if (strcmp(buf, target)) { printf("FAIL: the symlink reads %s\n", buf); return 1; }
    if (!(fcntl(fd, F_GETFL) & O_PATH)) fail("O_PATH lost");
    printf("PASS\n");
    return 0;
}
