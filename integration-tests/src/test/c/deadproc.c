/*
 * /proc files and a current directory of processes that have exited (zdtm's remap_dead_pid and
 * unhashed_proc; both used to be refused, and before that the restore failed after a killing
 * dump). Two children are forked; fd 3... holds /proc/A/mountinfo, /proc/A/status and the
 * directory /proc/B itself (zdtm's remap_dead_pid_root, refused until the directory was let in), the cwd is
 * /proc/B; then both are killed and reaped. Prints "ready" and waits for SIGUSR2, then checks that
 * the fds are still open on files of a dead process — mountinfo reads (the file keeps its mount
 * namespace), status fails with ESRCH, the directory's fd reads "/proc/B (deleted)" — and that the
 * cwd is a dead process's directory: getcwd
 * fails with ENOENT and /proc/self/cwd reads "/proc/B (deleted)". Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

static pid_t child(void) {
    pid_t p = fork();
    if (p < 0) fail("fork");
    if (p == 0) {
        for (;;) pause();
    }
    return p;
}

int main(void) {
    pid_t a = child(), b = child();
    char path[64], want[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/mountinfo", a);
    int info = open(path, O_RDONLY);
    snprintf(path, sizeof path, "/proc/%d/status", a);
    int status = open(path, O_RDONLY);
    snprintf(path, sizeof path, "/proc/%d", b);
    int dir = open(path, O_RDONLY | O_DIRECTORY);
    if (info < 0 || status < 0 || dir < 0 || chdir(path)) fail("open or chdir");
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
    errno = 0;
    if (getcwd(buf, sizeof buf) || errno != ENOENT) fail("getcwd works in a dead process's directory");
    ssize_t n = readlink("/proc/self/cwd", buf, sizeof buf - 1);
    if (n < 0) fail("readlink cwd");
    buf[n] = 0;
    if (strcmp(buf, want)) { printf("FAIL: the cwd reads %s, not %s\n", buf, want); return 1; }
    printf("PASS\n");
    return 0;
}
