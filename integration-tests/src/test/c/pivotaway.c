/*
 * A child that pivots its own mount namespace's root onto a tmpfs and detaches the old root while its binary
 * stays mapped from there, as zdtm's mntns_pivot_root does in a container: run as `pivotaway ROOT` (ROOT a
 * directory of the host holding this static binary and an empty mnt/), it takes a mount namespace with ROOT as
 * its root (pivot_root) and execs itself there; its child pivots again onto a tmpfs on /mnt. The binary's mount is then attached
 * only in the parent's namespace, where the restore opens the child's mapped files and executable. On SIGUSR2 the
 * child checks that its root is still its tmpfs (its file is there) (the state comparator: its mappings and exe);
 * prints PASS or FAIL: reason. `pivotaway ROOT pidns`: the child is the init of a pid namespace too.
 */
#define _GNU_SOURCE
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

static void child(int ready) {
    const char *dir = "/mnt";
    if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) fail("child: a mount namespace");
    if (mount("pivotaway", dir, "tmpfs", 0, NULL) || chdir(dir) || mkdir("put", 0755)) fail("child: a tmpfs");
    if (syscall(SYS_pivot_root, ".", "put") || umount2("/put", MNT_DETACH) || chdir("/")) fail("child: pivot_root");
    int fd = open("/mine", O_RDWR | O_CREAT, 0600);
    if (fd < 0) fail("child: /mine");
    close(fd);
    if (write(ready, "c", 1) != 1) fail("ready");
    while (!check) pause();
    if (access("/mine", F_OK)) fail("child: /mine is gone from its root");
    _exit(0);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) fail("usage: pivotaway ROOT [pidns]");
    int pidns = !strcmp(argv[argc - 1], "pidns");
    if (argc < 3 || strcmp(argv[2], "inside")) { /* its binary mapped from the container's root, as zdtm's is */
        pivot_into(argv[1], 0);
        execl("/pivotaway", "pivotaway", argv[1], "inside", pidns ? "pidns" : (char *) NULL, (char *) NULL);
        fail("exec /pivotaway");
    }
    signal(SIGUSR2, on_usr2);
    // pidns: the child is the init of a pid namespace, as the tasks of zdtm's ns flavor are in one
    if (pidns && unshare(CLONE_NEWPID)) fail("unshare(CLONE_NEWPID)");
    pid_t c = fork_ready(child);
    printf("ready\n");
    while (!check) pause();
    return child_verdict(c);
}
