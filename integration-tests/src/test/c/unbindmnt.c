/*
 * A bind of a directory of a mount that was made unbindable afterwards, as zdtm's unbindable: run as
 * `unbindmnt ROOT` (ROOT a directory of the host holding this static binary and an empty mnt/), it takes a
 * mount namespace of its own with ROOT as its root (pivot_root), mounts a tmpfs on /mnt, binds /mnt/aux on
 * /mnt/bind and then makes /mnt unbindable. The restore made /mnt unbindable before the bind from it: EINVAL
 * after the killing dump. On SIGUSR2 it unmounts the bind and the tmpfs, as the zdtm test does. Prints PASS or
 * FAIL: reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "workload.h"
#include "pivot.h"

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) fail("usage: unbindmnt ROOT");
    signal(SIGUSR2, on_usr2);
    const char *root = argv[1];
    pivot_into(root, 1);
    if (mount("unbindable", "/mnt", "tmpfs", 0, NULL)) fail("mount tmpfs");
    if (mkdir("/mnt/aux", 0755) || mkdir("/mnt/bind", 0755)) fail("mkdir");
    if (mount("/mnt/aux", "/mnt/bind", NULL, MS_BIND, NULL)) fail("bind /mnt/aux");
    if (mount(NULL, "/mnt", NULL, MS_UNBINDABLE, NULL)) fail("MS_UNBINDABLE");
    printf("ready\n");
    while (!check) pause();
    if (umount("/mnt/bind")) fail("umount /mnt/bind");
    if (umount("/mnt")) fail("umount /mnt");
    printf("PASS\n");
    return 0;
}
