/*
 * An fd of a symlink itself, opened with O_PATH | O_NOFOLLOW (zdtm's symlink: refused as an unknown
 * file). Arguments: DIR [kept|removed [ROOT [uns]]]. DIR/target is a file, DIR/link a symlink to it, owned
 * by 4321:4322. With "removed" the link is removed once opened (zdtm's symlink01: refused before, "a
 * removed symlink is not supported"); with ROOT the program first pivots into ROOT, a directory holding
 * it, in a mount namespace of its own (zdtm's ns flavor: refused before, "no longer at that path"),
 * DIR then being a path of ROOT; with "uns" it takes a user namespace first, where ids other than root
 * are 100000 apart from cryo's (zdtm's uns flavor). Prints "ready" and waits for SIGUSR2, then checks that the fd is
 * still the symlink (fstat says a link of that owner, of the same inode unless removed), that
 * readlinkat through it reads DIR/target, that its flags still hold O_PATH, and that a removed link
 * is still removed (nothing at DIR/link, the fd named "DIR/link (deleted)" where there is a /proc). Prints
 * PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"
#include "pivot.h"
#include "userns.h"

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: symlinkfd DIR [kept|removed [ROOT [uns]]]");
    int removed = argc > 2 && strcmp(argv[2], "removed") == 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc > 4 && strcmp(argv[4], "uns") == 0) own_user_namespace("0 0 1\n1 100001 65535\n");
    if (argc > 3) pivot_into(argv[3], 1);
    char target[PATH_MAX], link[PATH_MAX];
    snprintf(target, sizeof target, "%s/target", argv[1]);
    snprintf(link, sizeof link, "%s/link", argv[1]);
    int f = creat(target, 0644);
    if (f < 0) fail("creat");
    close(f);
    if (symlink(target, link)) fail("symlink");
    if (lchown(link, 4321, 4322)) fail("lchown");
    int fd = open(link, O_PATH | O_NOFOLLOW);
    if (fd < 0) fail("open O_PATH|O_NOFOLLOW");
    if (removed && unlink(link)) fail("unlink the link");
    struct stat before;
    if (fstat(fd, &before) || !S_ISLNK(before.st_mode)) fail("not a symlink before the dump");
    printf("ready\n");
    while (!check) pause();

    struct stat after;
    if (fstat(fd, &after)) fail("fstat");
    if (!S_ISLNK(after.st_mode)) { printf("FAIL: the fd is no longer the symlink (mode 0%o)\n", after.st_mode); return 1; }
    if (!removed && after.st_ino != before.st_ino) fail("another symlink");
    if (after.st_uid != 4321 || after.st_gid != 4322) {
        printf("FAIL: the symlink is owned by %d:%d\n", after.st_uid, after.st_gid);
        return 1;
    }
    if (removed) {
        struct stat there;
        char self[64], name[PATH_MAX + 16], want[PATH_MAX + 16];
        if (lstat(link, &there) == 0) fail("the removed link is back at its path");
        snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
        ssize_t got = readlink(self, name, sizeof name - 1);
        if (got < 0 && (errno != ENOENT || access("/proc/self", F_OK) == 0)) fail("readlink /proc/self/fd");
        name[got < 0 ? 0 : got] = 0; /* a pivoted ROOT has no /proc */
        snprintf(want, sizeof want, "%s (deleted)", link);
        if (got >= 0 && strcmp(name, want)) { printf("FAIL: the fd is named %s\n", name); return 1; }
    }
    char buf[PATH_MAX];
    ssize_t n = readlinkat(fd, "", buf, sizeof buf - 1);
    if (n < 0) fail("readlinkat");
    buf[n] = 0;
    if (strcmp(buf, target)) { printf("FAIL: the symlink reads %s\n", buf); return 1; }
    if (!(fcntl(fd, F_GETFL) & O_PATH)) fail("O_PATH lost");
    printf("PASS\n");
    return 0;
}
