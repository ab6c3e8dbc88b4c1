/*
 * delhostbind DIR — run in a mount namespace of its own (`unshare -m`), DIR a directory of a file system the
 * namespace did not make (the host's, seen through the namespace's copy of its mounts): DIR/src (a file holding
 * "kept", mode 0640) is bound on DIR/dst and removed, as zdtm's mntns_deleted does with its second mount.
 * mountinfo shows the bind's root as ".../src//deleted". The dump refused it ("is a bind mount of ...//deleted,
 * which is gone; it cannot be bound again"). Prints "ready".
 * On SIGUSR2 checks that DIR/dst is the removed file (no links, "kept", mode 0640), that its mount's root still
 * ends with "/src//deleted" and that DIR/src is gone. Prints PASS or FAIL: reason.
 * With "child": a child then makes a mount namespace of its own, a copy holding the bind too (refused: each
 * namespace's restore would make the file again, two files where there was one).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include "workload.h"

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) fail("usage: delhostbind DIR");
    signal(SIGUSR2, on_usr2);
    char src[4096], dst[4096];
    snprintf(src, sizeof src, "%s/src", argv[1]);
    snprintf(dst, sizeof dst, "%s/dst", argv[1]);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) fail("make / private");
    int fd = open(src, O_CREAT | O_WRONLY | O_EXCL, 0640);
    if (fd < 0 || write(fd, "kept", 4) != 4 || fchmod(fd, 0640) || close(fd)) fail("make src");
    fd = open(dst, O_CREAT | O_WRONLY | O_EXCL, 0600);
    if (fd < 0 || close(fd)) fail("make dst");
    if (mount(src, dst, NULL, MS_BIND, NULL)) fail("bind src on dst");
    if (unlink(src)) fail("unlink src");
    if (argc > 2 && !strcmp(argv[2], "child")) {
        int made[2];
        pid_t parent = getpid();
        if (pipe(made)) fail("pipe");
        pid_t c = fork();
        if (c < 0) fail("fork");
        if (c == 0) {
            if (unshare(CLONE_NEWNS)) _exit(1);
            close(made[1]);
            for (int i = 0; i < 600 && getppid() == parent; i++) sleep(1);
            _exit(0);
        }
        close(made[1]);
        char b;
        if (read(made[0], &b, 1) != 0) fail("the child's namespace");
    }
    printf("ready\n");
    while (!check) pause();
    struct stat st;
    if (stat(dst, &st) || !S_ISREG(st.st_mode)) fail("dst is no file");
    if (st.st_nlink != 0) fail("dst is no bind mount of a removed file (it has links)");
    if ((st.st_mode & 07777) != 0640) {
        printf("FAIL: dst is mode 0%o, not 0640\n", st.st_mode & 07777);
        return 1;
    }
    char buf[16] = {0};
    fd = open(dst, O_RDONLY);
    if (fd < 0 || read(fd, buf, sizeof buf - 1) != 4 || strcmp(buf, "kept")) fail("dst does not hold \"kept\"");
    close(fd);
    if (access(src, F_OK) == 0) fail("src is back");
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[8192];
    int found = 0;
    while (f && fgets(line, sizeof line, f)) {
        char root[4096], point[4096];
        if (sscanf(line, "%*d %*d %*s %4095s %4095s", root, point) == 2 && !strcmp(point, dst)) {
            size_t n = strlen(root), k = strlen("/src//deleted");
            found = n >= k && !strcmp(root + n - k, "/src//deleted") ? 1 : -1;
            if (found < 0) printf("FAIL: the bind's root is %s\n", root);
        }
    }
    if (found == 0) fail("no mount on dst");
    if (found < 0) return 1;
    printf("PASS\n");
    return 0;
}
