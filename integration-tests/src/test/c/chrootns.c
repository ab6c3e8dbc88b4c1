/*
 * A task chrooted inside a container, as zdtm's chroot and chroot-file in their ns and uns flavors: run as
 * `chrootns ROOT [uns]` (ROOT a directory of the host holding this static binary and an empty mnt/), it takes
 * a mount namespace of its own with ROOT as its root (pivot_root; with `uns` a user namespace first, mapping
 * every id to itself) and execs itself there; its child opens /outside, chroots into /mnt and opens /inside
 * there. The child's mountinfo shows no mount then (the root's mount begins above its root), and the dump
 * refused its cwd and mapped binary as "on a mount that is not attached in its mount namespace". On SIGUSR2
 * the child checks that its root is still /mnt (the binary is not in it, /inside is) and that both files read
 * back through their fds. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"
#include "childcheck.h"
#include "pivot.h"
#include "userns.h"

static int holds(int fd, const char *what) {
    char buf[16] = {0};
    return pread(fd, buf, sizeof buf - 1, 0) == (ssize_t) strlen(what) && !strcmp(buf, what);
}

static void child(int ready) {
    int out = open("/outside", O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (out < 0 || write(out, "outside", 7) != 7) fail("child: /outside");
    struct stat mnt;
    if (stat("/mnt", &mnt)) fail("stat /mnt");
    if (chroot("/mnt") || chdir("/")) fail("chroot /mnt");
    int in = open("/inside", O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || write(in, "inside", 6) != 6) fail("child: /inside");
    if (write(ready, "c", 1) != 1) fail("ready");
    while (!check) pause();
    struct stat root, again, byfd;
    if (stat("/", &root) || root.st_ino != mnt.st_ino || root.st_dev != mnt.st_dev) fail("child: its root is not /mnt");
    if (access("/chrootns", F_OK) == 0) fail("child: the binary is in its root: not chrooted any more");
    if (!holds(out, "outside")) fail("child: its fd of /outside lost its bytes");
    if (!holds(in, "inside")) fail("child: its fd of /inside lost its bytes");
    if (stat("/inside", &again) || fstat(in, &byfd) || again.st_ino != byfd.st_ino || again.st_dev != byfd.st_dev)
        fail("child: its fd is not /inside");
    _exit(0);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) fail("usage: chrootns ROOT [uns]");
    if (strcmp(argv[argc - 1], "inside")) { /* its binary mapped from the container's root, as zdtm's is */
        if (argc > 2 && !strcmp(argv[2], "uns")) own_user_namespace("0 0 4294967295\n");
        pivot_into(argv[1], 0);
        execl("/chrootns", "chrootns", argv[1], "inside", (char *) NULL);
        fail("exec /chrootns");
    }
    signal(SIGUSR2, on_usr2);
    pid_t c = fork_ready(child);
    printf("ready\n");
    while (!check) pause();
    return child_verdict(c);
}
