/*
 * A bind mount of a directory since removed (zdtm's mntns_deleted: a tmpfs mounted in the namespace,
 * its directory test-src bound on test-dst, then test-src removed): mountinfo shows the mount's root
 * as "/src//deleted". Run as `deldirbind ROOT` (ROOT a directory of the host holding this static binary
 * and an empty mnt/): it takes a mount namespace of its own with ROOT as its root, mounts a tmpfs on
 * /mnt, binds /mnt/src (mode 0750, owner 65534:65534) on /mnt/dst and removes /mnt/src. The dump
 * refused it ("a file of mode 040750; only regular files, FIFOs and device nodes are made again").
 * On SIGUSR2 it checks that /mnt/dst is still a removed directory (no links: the bind, not the
 * directory under it) with that mode and owner, that /mnt/src is gone, and that a new file cannot be made in it. Prints PASS or FAIL: reason.
 * `deldirbind ROOT root`: no tmpfs; src and dst are directories of ROOT itself, the container's root, a bind of a host
 * directory (zdtm's mntns_deleted in its ns flavor): the dump refused it ("is a bind mount of ROOT/mnt/src//deleted,
 * which is gone; it cannot be bound again").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"
#include "pivot.h"

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) fail("usage: deldirbind ROOT [root]");
    signal(SIGUSR2, on_usr2);
    pivot_into(argv[1], 1);
    if ((argc < 3 || strcmp(argv[2], "root")) && mount("deleted", "/mnt", "tmpfs", 0, "mode=0755")) fail("mount tmpfs on /mnt");
    if (mkdir("/mnt/src", 0750) || chmod("/mnt/src", 0750) || chown("/mnt/src", 65534, 65534) || mkdir("/mnt/dst", 0700))
        fail("mkdir src, dst");
    if (mount("/mnt/src", "/mnt/dst", NULL, MS_BIND, NULL)) fail("bind src on dst");
    if (rmdir("/mnt/src")) fail("rmdir src");
    printf("ready\n");
    while (!check) pause();
    struct stat st;
    if (stat("/mnt/dst", &st) || !S_ISDIR(st.st_mode)) fail("/mnt/dst is no directory");
    if (st.st_nlink != 0) fail("/mnt/dst is no bind mount of a removed directory (it has links)");
    if ((st.st_mode & 07777) != 0750 || st.st_uid != 65534 || st.st_gid != 65534) {
        printf("FAIL: /mnt/dst is mode 0%o, owner %d:%d, not 0750, 65534:65534\n", st.st_mode & 07777, st.st_uid, st.st_gid);
        return 1;
    }
    if (access("/mnt/src", F_OK) == 0 || errno != ENOENT) fail("/mnt/src is back");
    if (open("/mnt/dst/f", O_CREAT | O_WRONLY, 0600) >= 0 || errno != ENOENT) fail("a file can be made in the removed directory");
    printf("PASS\n");
    return 0;
}
