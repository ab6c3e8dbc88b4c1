/*
 * A task that makes a mount namespace, pivots into an empty tmpfs and drops the old root without
 * exec'ing: its program and libraries are mapped from a mount its namespace no longer shows.
 * The restore opened them by their paths in the task's view, where nothing is (ENOENT), after the dump
 * had killed the tree. On SIGUSR2 checks it still runs its code and that / is its tmpfs. Prints PASS or FAIL.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <signal.h>

#include "workload.h"

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    char dir[] = "pivotstayXXXXXX"; /* in the test's directory (the cwd), not left in /tmp: the host never sees its mount */
    if (!mkdtemp(dir)) fail("mkdtemp");
    if (unshare(CLONE_NEWNS)) fail("unshare");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) fail("make-rprivate");
    if (mount("cryo-pivot", dir, "tmpfs", 0, "size=1m")) fail("mount tmpfs");
    char old[64];
    snprintf(old, sizeof old, "%s/old", dir);
    if (mkdir(old, 0700)) fail("mkdir old");
    if (syscall(SYS_pivot_root, dir, old)) fail("pivot_root");
    if (chdir("/")) fail("chdir");
    if (umount2("/old", MNT_DETACH) || rmdir("/old")) fail("umount old root");
    printf("ready\n");
    while (!check) pause();
    struct statfs fs;
    if (statfs("/", &fs) || fs.f_type != 0x01021994) fail("/ is not the tmpfs");
    char *s = strdup("still running its libc");
    if (!s || strlen(s) != 22) fail("libc");
    printf("PASS\n");
    return 0;
}
