/*
 * Files made with O_TMPFILE by a task of a container (zdtm's fd01 in its ns flavor: glibc's tmpfile()), one
 * empty, one with a hole before its bytes. Run as `tmpfilens ROOT` (ROOT a directory of the host holding this
 * static binary and an empty mnt/): its child, the init of a pid namespace, takes a mount namespace with ROOT as
 * its root, mounts its pid namespace's /proc there and makes the files in /mnt, as zdtm's container does. The restore made them in the
 * task's mount namespace and wrote them through /proc/CRYO_PID/fd/N, which that /proc does not show: "cannot
 * write the O_TMPFILE file /mnt/#N again: /proc/P/fd/8" (ENOENT, unsaid) after the killing dump. On SIGUSR2 the
 * child checks each file's size, bytes, hole and name ("/mnt/#INO (deleted)"), and that it can still be linked
 * (linkat AT_EMPTY_PATH: a file O_TMPFILE made). Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"
#include "childcheck.h"
#include "pivot.h"

#define HOLE 65536

static void check_file(int fd, off_t size, const char *what) {
    struct stat st;
    if (fstat(fd, &st) || st.st_nlink != 0 || st.st_size != size) fail(what);
    char link[256], proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(proc, link, sizeof link - 1);
    if (n < 0) fail("readlink");
    link[n] = 0;
    char want[128];
    snprintf(want, sizeof want, "/mnt/#%lu (deleted)", (unsigned long) st.st_ino);
    if (strcmp(link, want)) fail("the file's name is not /mnt/#INO (deleted)");
    if (linkat(fd, "", AT_FDCWD, "/mnt/named", AT_EMPTY_PATH) || unlink("/mnt/named")) fail("linkat AT_EMPTY_PATH");
}

static const char *root;

static void child(int ready) {
    pivot_into(root, 1);
    if (mkdir("/proc", 0555) && errno != EEXIST) fail("child: mkdir /proc");
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL)) fail("child: mount /proc");
    int empty = open("/mnt", O_TMPFILE | O_RDWR, 0600);
    int sparse = open("/mnt", O_TMPFILE | O_RDWR, 0640);
    if (empty < 0 || sparse < 0) fail("child: O_TMPFILE in /mnt");
    if (pwrite(sparse, "tail", 4, HOLE) != 4) fail("child: pwrite");
    if (write(ready, "c", 1) != 1) fail("ready");
    while (!check) pause();
    check_file(empty, 0, "child: the empty file's links or size");
    check_file(sparse, HOLE + 4, "child: the sparse file's links or size");
    char buf[8] = {1};
    if (pread(sparse, buf, 4, HOLE) != 4 || memcmp(buf, "tail", 4)) fail("child: the sparse file's bytes");
    if (pread(sparse, buf, 8, 4096) != 8 || memcmp(buf, "\0\0\0\0\0\0\0\0", 8)) fail("child: the hole's bytes");
    _exit(0);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) fail("usage: tmpfilens ROOT");
    signal(SIGUSR2, on_usr2);
    root = argv[1];
    if (unshare(CLONE_NEWPID)) fail("unshare(CLONE_NEWPID)");
    pid_t c = fork_ready(child);
    printf("ready\n");
    while (!check) pause();
    return child_verdict(c);
}
