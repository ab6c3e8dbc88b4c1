/*
 * Peer groups that span two mount namespaces of the tree, as zdtm's mntns_shared_bind leaves them in its ns
 * flavor: run as `sharedbind ROOT` (ROOT a directory of the host holding this static binary and an empty
 * mnt/), it takes a mount namespace with ROOT as its root and makes its root shared; its child takes a copy
 * of that namespace (the copies are peers of the originals) and binds /mnt/t on /mnt/t.bind there, which
 * propagates to the parent's namespace; the parent then mounts a tmpfs on /mnt/t/sub, which propagates to
 * the child's /mnt/t/sub and to /mnt/t.bind/sub in both. On SIGUSR2 the child unmounts /mnt/t/sub (the
 * kernel unmounts its copies in both namespaces with it), then the parent unmounts /mnt/t.bind: EBUSY if its
 * /mnt/t.bind/sub stayed, i.e. the two namespaces came back without their shared groups. Prints PASS or
 * FAIL: reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"
#include "pivot.h"

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) fail("usage: sharedbind ROOT");
    signal(SIGUSR2, on_usr2);
    pivot_into(argv[1], 0);
    if (mount(NULL, "/", NULL, MS_SHARED, NULL)) fail("make / shared");
    if (mkdir("/mnt/t", 0700) || mkdir("/mnt/t/sub", 0700) || mkdir("/mnt/t.bind", 0700)) fail("mkdir");
    int up[2], down[2];
    if (pipe(up) || pipe(down)) fail("pipe");
    char b = 0;
    pid_t c = fork();
    if (c == 0) {
        if (unshare(CLONE_NEWNS) || mount("/mnt/t", "/mnt/t.bind", NULL, MS_BIND, NULL)) fail("child: bind");
        if (write(up[1], "c", 1) != 1 || read(down[0], &b, 1) != 1) fail("child: sync");
        if (umount("/mnt/t/sub")) fail("child: umount /mnt/t/sub");
        if (write(up[1], "u", 1) != 1) fail("child: sync");
        _exit(0);
    }
    if (read(up[0], &b, 1) != 1) fail("the child did not bind");
    if (mount("sub", "/mnt/t/sub", "tmpfs", 0, NULL)) fail("mount tmpfs on /mnt/t/sub");
    printf("ready\n");
    while (!check) pause();
    if (write(down[1], "g", 1) != 1) fail("sync");
    int status;
    if (read(up[0], &b, 1) != 1) {
        waitpid(c, &status, 0);
        printf("FAIL: the child failed (status 0x%x)\n", status);
        return 1;
    }
    if (umount("/mnt/t.bind")) fail("umount /mnt/t.bind: its sub stayed after the child's umount of /mnt/t/sub");
    if (waitpid(c, &status, 0) != c || !WIFEXITED(status) || WEXITSTATUS(status)) {
        printf("FAIL: the child failed (status 0x%x)\n", status);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
