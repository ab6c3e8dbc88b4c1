/*
 * childcover BOX — run in a mount namespace of its own (`unshare -m`, in a user namespace too: `unshare -U
 * --map-root-user -m`), whose shell mounted a tmpfs on BOX with a file "under". A child makes a
 * mount namespace of its own and mounts its own tmpfs, with a file "over", over the copy of its
 * parent's (as zdtm's mntns_* tests do). In a user namespace cryo's copy of the child's namespace locks
 * the covering mount, and the dump failed with a bare "umount2(BOX, MNT_DETACH): EINVAL".
 *
 * The child's copy of the parent's tmpfs is the parent's file system: a restore that mounted a tmpfs of
 * its own there, with the same files, lost what the parent writes from then on.
 *
 * On SIGUSR2 checks: the parent's BOX shows "under" alone; it writes "later" there; the child's BOX
 * shows "over" alone and, once it unmounts its tmpfs, "under" and "later". Prints "PASS" or "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>
#include "workload.h"
#include "childcheck.h"
#include "fileholds.h"

static const char *box;

/* The child's verdict as its exit code: 0, or the step that failed. */
static int child(int ready)
{
    if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
        return 2;
    if (tmpfs_on(box, "cryo-over"))
        return 3;
    if (names(box, "over"))
        return 4;
    if (write(ready, "r", 1) != 1)
        return 5;
    while (!check)
        pause();
    if (!reads(box, "over", "over\n") || reads(box, "under", "under\n"))
        return 6; /* its own tmpfs, alone, on BOX */
    if (umount2(box, 0))
        return 7;
    if (!reads(box, "under", "under\n") || reads(box, "over", "over\n"))
        return 8; /* the copy of its parent's below, with its file */
    if (!reads(box, "later", "later\n"))
        return 9; /* the same file system as its parent's: what the parent wrote since */
    return 0;
}

static void child_exits(int ready)
{
    _exit(child(ready));
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2)
        fail("usage: childcover BOX");
    box = argv[1];
    if (!reads(box, "under", "under\n"))
        fail("set up: BOX does not show the parent's tmpfs");
    pid_t pid = fork_ready(child_exits);
    printf("ready\n");
    while (!check)
        pause();
    if (!reads(box, "under", "under\n") || reads(box, "over", "over\n"))
        fail("the parent's BOX does not show its tmpfs alone");
    if (names(box, "later"))
        fail("write BOX/later");
    return child_verdict(pid);
}
