/*
 * A mount namespace of the caller's own whose root is ROOT, a directory of the host (pivot_root, the old root
 * detached), as a container's runtime leaves it; {@code private_root}: every mount of it made private then.
 * Needs workload.h's fail().
 */
#ifndef CRYO_PIVOT_H
#define CRYO_PIVOT_H

#include <errno.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void pivot_into(const char *root, int private_root) {
    if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL)) fail("a mount namespace");
    if (mount(root, root, NULL, MS_BIND | MS_REC, NULL)) fail("bind root");
    if (chdir(root) || (mkdir("old", 0777) && errno != EEXIST)) fail("mkdir old");
    if (syscall(SYS_pivot_root, ".", "old")) fail("pivot_root");
    if (umount2("/old", MNT_DETACH) || rmdir("/old") || chdir("/")) fail("umount old");
    if (private_root && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) fail("private root");
}

#endif
