/*
 * An fd held through a mount of another mount namespace than its holder's, as zdtm's mntns_open: run as
 * `mntnsopen ROOT` (ROOT a directory of the host holding this static binary), it takes a mount namespace of
 * its own with ROOT as its root (pivot_root), opens /f and forks a child that takes another namespace (a copy)
 * and keeps that fd, the parent closing its own. The child's fd stays on the parent's mount, not on its copy.
 * The restore reopened it by path in the child's namespace: on the copy. On SIGUSR2 the child checks that
 * its fd is not on the mount /f opened again lands on, and the parent that the child's fd is on its own
 * mount of /f (statx's mount ids; the child's fd taken with pidfd_getfd). Prints PASS or FAIL: reason.
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

/* The mount id of an fd's file (statx: the root has no /proc). */
static long long fd_mnt_id(int fd) {
    struct statx st;
    if (fd < 0 || statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &st) || !(st.stx_mask & STATX_MNT_ID)) return -1;
    return (long long)st.stx_mnt_id;
}

static void child(int held, int ready) {
    if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) fail("the child's namespace");
    if (write(ready, "c", 1) != 1) fail("ready");
    while (!check) pause();
    int again = open("/f", O_RDONLY);
    long long held_id = fd_mnt_id(held), own_id = fd_mnt_id(again);
    if (held_id < 0 || own_id < 0) fail("child: no mnt_id");
    if (held_id == own_id) {
        printf("FAIL: child: its fd is on its own namespace's mount %lld\n", own_id);
        _exit(1);
    }
    _exit(0);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) fail("usage: mntnsopen ROOT");
    signal(SIGUSR2, on_usr2);
    const char *root = argv[1];
    pivot_into(root, 1);
    int held = open("/f", O_RDWR | O_CREAT, 0600);
    if (held < 0) fail("open /f");
    int p[2];
    if (pipe(p)) fail("pipe");
    pid_t c = fork();
    if (c == 0) {
        close(p[0]);
        child(held, p[1]);
    }
    char b;
    if (read(p[0], &b, 1) != 1) fail("the child did not get ready");
    int child_pidfd = syscall(SYS_pidfd_open, c, 0);
    if (child_pidfd < 0) fail("pidfd_open");
    close(held);
    printf("ready\n");
    while (!check) pause();
    int again = open("/f", O_RDONLY);
    long long mine = fd_mnt_id(again), childs = fd_mnt_id(syscall(SYS_pidfd_getfd, child_pidfd, held, 0));
    if (mine < 0 || childs < 0) fail("root: no mnt_id");
    if (mine != childs) {
        printf("FAIL: root: the child's fd is on mount %lld, not on its own %lld\n", childs, mine);
        kill(c, SIGKILL);
        return 1;
    }
    return child_verdict(c);
}
