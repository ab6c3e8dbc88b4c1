/*
 * /proc files and a current directory of processes that have exited (zdtm's remap_dead_pid and
 * unhashed_proc; both used to be refused, and before that the restore failed after a killing
 * dump). Two children are forked; fd 3... holds /proc/A/mountinfo, /proc/A/status and the
 * directory /proc/B itself (zdtm's remap_dead_pid_root, refused until the directory was let in), the cwd is
 * /proc/B; then both are killed and reaped. Prints "ready" and waits for SIGUSR2, then checks that
 * the fds are still open on files of a dead process — mountinfo reads (the file keeps its mount
 * namespace), status fails with ESRCH, the directory's fd reads "/proc/B (deleted)" — and that the
 * cwd is a dead process's directory: getcwd
 * fails with ENOENT and /proc/self/cwd reads "/proc/B (deleted)". A runs as user and group 65534 (dumpable
 * again, as a program exec'd by that user is), so its files are that user's: still after the restore (the
 * stand-in at a dead pid of a pid namespace of its own, a container's, ran as root, and they were root's).
 * Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

#define NOBODY 65534

/* A child that sleeps for good; with `nobody`, as user and group 65534 once the parent returns. */
static pid_t child(int nobody) {
    int p[2];
    if (pipe(p)) fail("pipe");
    pid_t c = fork();
    if (c < 0) fail("fork");
    if (c == 0) {
        if (nobody && (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) || setresuid(NOBODY, NOBODY, NOBODY)
                || prctl(PR_SET_DUMPABLE, 1)))
            _exit(1);
        close(p[1]);
        for (;;) pause();
    }
    close(p[1]);
    char b;
    if (read(p[0], &b, 1) != 0) fail("the child's setup");
    close(p[0]);
    return c;
}

/* 0 when fd's file is user and group 65534's. */
static int nobodys(int fd) {
    struct stat st;
    return fstat(fd, &st) || st.st_uid != NOBODY || st.st_gid != NOBODY;
}

int main(void) {
    pid_t a = child(1), b = child(0);
    char path[64], want[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/mountinfo", a);
    int info = open(path, O_RDONLY);
    snprintf(path, sizeof path, "/proc/%d/status", a);
    int status = open(path, O_RDONLY);
    snprintf(path, sizeof path, "/proc/%d", b);
    int dir = open(path, O_RDONLY | O_DIRECTORY);
    if (info < 0 || status < 0 || dir < 0 || chdir(path)) fail("open or chdir");
    if (nobodys(status)) fail("the status of a process of user 65534 is not that user's");
    kill(a, SIGKILL);
    kill(b, SIGKILL);
    if (waitpid(a, NULL, 0) != a || waitpid(b, NULL, 0) != b) fail("waitpid");
    snprintf(want, sizeof want, "/proc/%d (deleted)", b);

    signal(SIGUSR2, on_usr2);
    printf("ready\n");
    fflush(stdout);
    while (!check) pause();

    if (fcntl(info, F_GETFD) < 0 || fcntl(status, F_GETFD) < 0 || fcntl(dir, F_GETFD) < 0) fail("an fd is gone");
    snprintf(path, sizeof path, "/proc/self/fd/%d", dir);
    ssize_t d = readlink(path, buf, sizeof buf - 1);
    if (d < 0) fail("readlink the directory's fd");
    buf[d] = 0;
    if (strcmp(buf, want)) { printf("FAIL: the directory's fd reads %s, not %s\n", buf, want); return 1; }
    if (read(info, buf, sizeof buf) <= 0) fail("mountinfo of the dead process does not read");
    errno = 0;
    if (read(status, buf, sizeof buf) >= 0 || errno != ESRCH) fail("status of a dead process reads");
    if (nobodys(status) || nobodys(info)) fail("the files of the dead process of user 65534 are not that user's");
    errno = 0;
    if (getcwd(buf, sizeof buf) || errno != ENOENT) fail("getcwd works in a dead process's directory");
    ssize_t n = readlink("/proc/self/cwd", buf, sizeof buf - 1);
    if (n < 0) fail("readlink cwd");
    buf[n] = 0;
    if (strcmp(buf, want)) { printf("FAIL: the cwd reads %s, not %s\n", buf, want); return 1; }
    printf("PASS\n");
    return 0;
}
