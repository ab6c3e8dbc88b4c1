/*
 * Locks on files the program deleted, as LMDB's lock file in knotd's temporary config database:
 * an flock WRITE lock on DIR/tmp/flock, a POSIX READ lock on bytes 0-0 of DIR/tmp/posix (LMDB's)
 * and an OFD WRITE lock on the whole of DIR/tmp/ofd, all three files unlinked once locked and
 * their directory DIR/tmp removed (the fd links keep naming DIR/tmp/NAME). Argument: DIR. On SIGUSR2 a forked child opens each file again through /proc/PARENT/fd/N (its own
 * open files) and checks that each lock is still held; prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

static int open_in(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0 || unlink(path) < 0) fail(path);
    return fd;
}

static int reopen(pid_t pid, int fd) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd/%d", (int) pid, fd);
    return open(path, O_RDWR);
}

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: ghostlocks DIR");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tmp", argv[1]);
    if (mkdir(dir, 0700) < 0) fail("mkdir");
    int a = open_in(dir, "flock"), b = open_in(dir, "posix"), c = open_in(dir, "ofd");
    if (rmdir(dir) < 0) fail("rmdir");
    struct flock pl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    struct flock ol = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (flock(a, LOCK_EX) < 0 || fcntl(b, F_SETLK, &pl) < 0 || fcntl(c, F_OFD_SETLK, &ol) < 0) fail("locking");
    printf("ready\n");
    while (!check) pause();

    pid_t parent = getpid(), child = fork();
    if (child == 0) {
        int a2 = reopen(parent, a), b2 = reopen(parent, b), c2 = reopen(parent, c);
        if (a2 < 0 || b2 < 0 || c2 < 0) _exit(5);
        if (flock(a2, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK) _exit(2);
        struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100};
        if (fcntl(b2, F_GETLK, &q) < 0 || q.l_type != F_RDLCK || q.l_pid != parent || q.l_start != 0 || q.l_len != 1)
            _exit(3);
        struct flock r = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0, .l_pid = 0};
        if (fcntl(c2, F_OFD_GETLK, &r) < 0 || r.l_type != F_WRLCK) _exit(4);
        _exit(0);
    }
    int status;
    if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status)) fail("checker child");
    switch (WEXITSTATUS(status)) {
    case 0: printf("PASS\n"); return 0;
    case 2: printf("FAIL: the flock is not held\n"); return 1;
    case 3: printf("FAIL: the POSIX lock is not held as it was\n"); return 1;
    case 4: printf("FAIL: the OFD lock is not held\n"); return 1;
    default: printf("FAIL: cannot open the deleted files again\n"); return 1;
    }
}
