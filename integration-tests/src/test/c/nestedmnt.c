/*
 * A mount namespace made inside a container, as zdtm's mntns_root_bind, mntns_ghost and mnt_ext_collision do in
 * their ns flavor: run as `nestedmnt ROOT` (ROOT a directory of the host holding this static binary and an
 * empty mnt/), it takes a mount namespace of its own with ROOT as its root (pivot_root, the old root
 * detached); its child then takes another, mounts a tmpfs on /mnt there and keeps a file of it open. The
 * restore built that second namespace's root from host paths the task could not see (its copy was of the
 * container's namespace): ENOENT after the killing dump, the tree lost. On SIGUSR2 the root checks that its
 * /mnt is no mount and the child's file is not there, and the child that it sees its tmpfs with the file,
 * through its fd too, from the same root directory. Prints PASS or FAIL: reason. With a second argument
 * `uns` it first takes a user namespace of its own (mapping every id to itself), as zdtm's uns flavor's
 * container is, before the rest; with `inneruser` the child takes that user namespace instead, inside the
 * container, before its mount namespace (which cryo refuses at dump: MountScan.requireJoinable).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"
#include "childcheck.h"
#include "pivot.h"
#include "userns.h"

static void child(int ready, int proc) {
    if (proc >= 0) own_user_namespace_at(proc, "0 0 4294967295\n"), close(proc);
    if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) fail("the nested namespace");
    if (mount("nested", "/mnt", "tmpfs", 0, "mode=0755")) fail("mount tmpfs on /mnt");
    int fd = open("/mnt/f", O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || write(fd, "nested", 6) != 6) fail("a file of the tmpfs");
    struct stat root;
    if (stat("/", &root)) fail("stat /");
    if (write(ready, "c", 1) != 1) fail("ready");
    while (!check) pause();
    char buf[8] = {0};
    struct stat now, f, byfd;
    if (stat("/", &now) || now.st_ino != root.st_ino || now.st_dev != root.st_dev) fail("child: another root");
    int again = open("/mnt/f", O_RDONLY);
    if (again < 0 || read(again, buf, sizeof buf) != 6 || memcmp(buf, "nested", 6)) fail("child: /mnt/f lost its bytes");
    if (fstat(again, &f) || fstat(fd, &byfd) || f.st_ino != byfd.st_ino || f.st_dev != byfd.st_dev)
        fail("child: its fd is not /mnt/f");
    _exit(0);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) fail("usage: nestedmnt ROOT [uns]");
    if (argc > 2 && !strcmp(argv[2], "uns")) own_user_namespace("0 0 4294967295\n");
    // the child's user namespace is made inside the container, which has no /proc: this one, opened before
    int proc = argc > 2 && !strcmp(argv[2], "inneruser") ? open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
    signal(SIGUSR2, on_usr2);
    const char *root = argv[1];
    pivot_into(root, 0);
    int p[2];
    if (pipe(p)) fail("pipe");
    pid_t c = fork();
    if (c == 0) {
        close(p[0]);
        child(p[1], proc);
    }
    char b;
    if (read(p[0], &b, 1) != 1) fail("the child did not get ready");
    if (proc >= 0) close(proc); // a file of the old root, detached: not part of the container
    printf("ready\n");
    while (!check) pause();
    struct stat mnt, rootst;
    if (stat("/mnt", &mnt) || stat("/", &rootst)) fail("stat /mnt");
    if (mnt.st_dev != rootst.st_dev) fail("root: /mnt is a mount in its namespace too");
    if (access("/mnt/f", F_OK) == 0) fail("root: the child's file is in its /mnt");
    return child_verdict(c);
}
