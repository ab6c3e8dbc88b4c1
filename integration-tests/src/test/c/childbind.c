/*
 * childbind DIR [deleted] — run in a mount namespace of its own (`unshare -m`): mounts a tmpfs on DIR and
 * another on DIR/0, binds DIR/0/1 on DIR/1 and opens DIR/1/F, linked as DIR/0/2/F too. A child in a
 * mount namespace of its own (inheriting that fd) unmounts DIR/1, binds DIR/0/2 on DIR/2, unmounts
 * DIR/0 and opens DIR/2/F (zdtm's mntns_link_remap and mntns_link_ghost, their file kept): its DIR/2
 * shows a directory of a tmpfs its namespace no longer mounts, which the dump refused ("shows /2 of its
 * file system; not supported yet"). With "deleted" the parent removes both names (mntns_link_ghost); with
 * "remap" it first links the file as DIR/0/F, which the child's namespace does not mount (mntns_link_remap).
 *
 * On SIGUSR2 the parent writes "later" to DIR/0/1/F (kept only); the child checks its two fds are one file on two
 * mounts, that file with two links (none when deleted, one when remapped), and reads "later" through the second. Prints "PASS" or "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "workload.h"
#include "childcheck.h"
#include "fdmount.h"
#include "fileholds.h"

static char dir[1024];
static int inherited, ready, deleted, remap;
static char stack[1 << 16] __attribute__((aligned(16)));

static const char *at(const char *rel)
{
    static char path[2][2048];
    static int n;
    n ^= 1;
    snprintf(path[n], sizeof path[n], "%s/%s", dir, rel);
    return path[n];
}

/* The child's verdict as its exit code: 0, or the step that failed. */
static int child(void *arg)
{
    (void)arg;
    if (umount(at("1")) || mkdir(at("2"), 0700) || mount(at("0/2"), at("2"), NULL, MS_BIND, NULL) || umount(at("0")))
        return 2;
    int fd2 = open(at("2/F"), O_RDWR);
    if (fd2 < 0 || write(ready, "r", 1) != 1)
        return 3;
    while (!check)
        pause();
    struct stat a, b;
    if (fstat(inherited, &a) || fstat(fd2, &b))
        return 4;
    if (a.st_ino != b.st_ino || a.st_dev != b.st_dev)
        return 5; /* one file */
    if (fd_mnt_id(inherited) <= 0 || fd_mnt_id(inherited) == fd_mnt_id(fd2))
        return 6; /* through two mounts */
    char buf0[16] = {0};
    if (remap && (write(fd2, "remap\n", 6) != 6 || pread(inherited, buf0, sizeof buf0 - 1, 0) != 6
            || strcmp(buf0, "remap\n")))
        return 9; /* one file */
    if (a.st_nlink != (remap ? 1 : deleted ? 0 : 2))
        return 7;
    char buf[16] = {0};
    if (!deleted && (pread(fd2, buf, sizeof buf - 1, 0) != 6 || strcmp(buf, "later\n")))
        return 8; /* what the parent wrote since */
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2)
        fail("usage: childbind DIR [deleted]");
    snprintf(dir, sizeof dir, "%s", argv[1]);
    remap = argc > 2 && !strcmp(argv[2], "remap");
    deleted = remap || (argc > 2 && !strcmp(argv[2], "deleted"));
    if (tmpfs_on(dir, "cryo-top") || mkdir(at("0"), 0700) || tmpfs_on(at("0"), "cryo-zero") || mkdir(at("0/1"), 0700) || mkdir(at("0/2"), 0700)
            || mkdir(at("1"), 0700) || mount(at("0/1"), at("1"), NULL, MS_BIND, NULL))
        fail("set up the mounts");
    inherited = open(at("1/F"), O_CREAT | O_RDWR, 0600);
    if (inherited < 0 || link(at("0/1/F"), at("0/2/F")) || (remap && link(at("0/1/F"), at("0/F"))))
        fail("make DIR/1/F and its other links");
    int p[2];
    if (pipe(p))
        fail("pipe");
    ready = p[1];
    pid_t pid = clone(child, stack + sizeof stack, CLONE_NEWNS | SIGCHLD, NULL);
    if (pid < 0)
        fail("clone");
    close(inherited);
    close(p[1]);
    char c;
    if (read(p[0], &c, 1) != 1)
        fail("the child did not open DIR/2/F");
    if (deleted && (unlink(at("0/1/F")) || unlink(at("0/2/F"))))
        fail("unlink");
    printf("ready\n");
    while (!check)
        pause();
    int w = deleted ? -2 : open(at("0/1/F"), O_WRONLY);
    if (w == -1 || (w >= 0 && (write(w, "later\n", 6) != 6 || close(w))))
        fail("write DIR/0/1/F");
    return child_verdict(pid);
}
