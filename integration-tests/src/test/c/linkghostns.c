/*
 * zdtm's mntns_link_ghost and mntns_link_remap in their uns flavor: run as `linkghostns ROOT [remap]` (ROOT a
 * directory of the host, mode 0777, holding this static binary), it takes a user namespace that maps no host root
 * (zdtm's ranges: 0 -> 20000, so a file system mounted inside cannot name cryo's uid 0: EOVERFLOW where cryo makes
 * or links a file as root), becomes its root, and a mount namespace with ROOT as its root. There it mounts a tmpfs
 * on /d and another on /d/0, directories of mode 0600 (only their owner's capabilities reach in), binds /d/0/1 on
 * /d/1, opens /d/1/F and links it as /d/0/2/F (and, with remap, /d/0/F). A child in a mount namespace of its own
 * unmounts /d/1 and /d/0, binds /d/0/2 on /d/2 and opens /d/2/F; the parent closes its fd and unlinks both names
 * (with remap /d/0/F stays, a name only the parent's namespace shows). The restore failed after the killing dump:
 * "Value too large for defined data type" making the file, and linking it into the child's view. On SIGUSR2 the
 * child checks that its two fds are one file (what one writes the other reads), of as many links as before, on two
 * mounts. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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

/* statx's mount id: the root has no /proc to read fdinfo from */
static long mnt_id(int fd) {
    struct statx st;
    if (statx(fd, "", AT_EMPTY_PATH, 0x1000 /* STATX_MNT_ID */, &st) || !(st.stx_mask & 0x1000)) return -1;
    return (long)st.stx_mnt_id;
}

static int fd;               /* the file, opened through /d/1 in the parent's namespace */
static unsigned long links; /* its links: 1 with remap */

static void child(int ready) {
    if (unshare(CLONE_NEWNS)) fail("child: a mount namespace");
    if (umount("/d/1") || mkdir("/d/2", 0600) || mount("/d/0/2", "/d/2", NULL, MS_BIND, NULL) || umount("/d/0"))
        fail("child: its mounts");
    int fd2 = open("/d/2/F", O_RDWR);
    if (fd2 < 0) fail("child: open /d/2/F");
    if (write(ready, "c", 1) != 1) fail("ready");
    while (!check) pause();
    struct stat a, b;
    char buf[8] = {0};
    if (fstat(fd, &a) || fstat(fd2, &b) || a.st_ino != b.st_ino || a.st_dev != b.st_dev) fail("child: two files");
    if (a.st_nlink != links) { printf("FAIL: %lu links, not %lu\n", (unsigned long)a.st_nlink, links); _exit(1); }
    if (pwrite(fd, "remade", 6, 0) != 6 || pread(fd2, buf, 6, 0) != 6 || strcmp(buf, "remade")) fail("child: not one file");
    long m1 = mnt_id(fd), m2 = mnt_id(fd2);
    if (m1 < 0 || m2 < 0 || m1 == m2) { printf("FAIL: mount ids %ld and %ld\n", m1, m2); _exit(1); }
    _exit(0);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) fail("usage: linkghostns ROOT [remap]");
    int remap = argc > 2 && !strcmp(argv[2], "remap");
    signal(SIGUSR2, on_usr2);
    own_user_namespace("0 20000 20000\n");
    if (setgroups(0, NULL) || setresgid(0, 0, 0) || setresuid(0, 0, 0)) fail("root of its user namespace");
    pivot_into(argv[1], 1);
    if (mkdir("/d", 0600) || mount("test", "/d", "tmpfs", 0, NULL) || mkdir("/d/0", 0600)
        || mount("test", "/d/0", "tmpfs", 0, NULL) || mkdir("/d/0/1", 0600) || mkdir("/d/1", 0600)
        || mount("/d/0/1", "/d/1", NULL, MS_BIND, NULL) || mkdir("/d/0/2", 0600))
        fail("the tmpfs mounts");
    fd = open("/d/1/F", O_CREAT | O_RDWR, 0600);
    if (fd < 0 || link("/d/0/1/F", "/d/0/2/F") || (remap && link("/d/0/1/F", "/d/0/F"))) fail("the file and its links");
    links = remap ? 1 : 0;
    pid_t c = fork_ready(child);
    close(fd);
    if (unlink("/d/0/1/F") || unlink("/d/0/2/F")) fail("unlink");
    printf("ready\n");
    while (!check) pause();
    return child_verdict(c);
}
