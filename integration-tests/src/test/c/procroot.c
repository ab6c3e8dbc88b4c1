/*
 * A root and a cwd in a /proc directory. With `helper`, Firefox's content sandbox: a task in a user
 * namespace of its own (root mapped to root) is chrooted by a helper it cloned with CLONE_FS, which
 * enters /proc/self/fdinfo and exits: the task's root and cwd are then the fdinfo directory of a
 * dead process, where nothing can be opened. With `own`, a task's cwd is its own /proc/PID/fdinfo
 * (a shell that did `cd /proc/self/fdinfo`). Prints "ready" and waits for SIGUSR2 (sent to the
 * root, which passes it on), then checks that nothing is reachable from its root (helper) or that
 * its cwd lists its own fds (own). Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

static char stack[64 * 1024];

static int enter(void *arg) {
    (void)arg;
    if (chroot("/proc/self/fdinfo") || chdir("/")) _exit(1);
    _exit(0);
}

static void write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) fail(path);
    close(fd);
}

static int sandboxed(int go) {
    char c;
    if (read(go, &c, 1) != 1) fail("wait for the maps");
    struct stat real;
    if (stat("/", &real)) fail("stat /");
    pid_t h = clone(enter, stack + sizeof stack, CLONE_FS | SIGCHLD, NULL);
    int st;
    if (h < 0 || waitpid(h, &st, 0) != h || !WIFEXITED(st) || WEXITSTATUS(st)) fail("the helper's chroot");
    struct stat root;
    if (stat("/", &root) || root.st_dev == real.st_dev) fail("not chrooted into /proc");
    signal(SIGUSR2, on_usr2);
    printf("ready\n");
    fflush(stdout);
    while (!check) pause();
    errno = 0;
    if (open("/0", O_RDONLY) >= 0 || open("/etc/passwd", O_RDONLY) >= 0) fail("a file opens from the dead root");
    struct stat after;
    if (stat("/", &after) || after.st_dev != root.st_dev || !S_ISDIR(after.st_mode)) fail("the root is another");
    if (opendir("/")) fail("the dead process's fdinfo lists");
    printf("PASS\n");
    fflush(stdout); /* a cloned child returns to _exit */
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "own")) {
        if (chdir("/proc/self/fdinfo")) fail("chdir");
        signal(SIGUSR2, on_usr2);
        printf("ready\n");
        fflush(stdout);
        while (!check) pause();
        char want[64], buf[256];
        snprintf(want, sizeof want, "/proc/%d/fdinfo", getpid());
        ssize_t n = readlink("/proc/self/cwd", buf, sizeof buf - 1);
        if (n < 0) fail("readlink cwd");
        buf[n] = 0;
        if (strcmp(buf, want)) { printf("FAIL: the cwd reads %s, not %s\n", buf, want); return 1; }
        if (access("1", F_OK)) fail("its own fd 1 is not in its cwd");
        printf("PASS\n");
        return 0;
    }
    int go[2];
    if (pipe(go)) fail("pipe");
    pid_t t = clone((int (*)(void *))sandboxed, stack + sizeof stack, CLONE_NEWUSER | SIGCHLD, (void *)(long)go[0]);
    if (t < 0) fail("clone a user namespace");
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/setgroups", t);
    write_file(path, "deny");
    snprintf(path, sizeof path, "/proc/%d/uid_map", t);
    write_file(path, "0 0 1");
    snprintf(path, sizeof path, "/proc/%d/gid_map", t);
    write_file(path, "0 0 1");
    if (write(go[1], "g", 1) != 1) fail("go");
    signal(SIGUSR2, on_usr2);
    while (!check) pause();
    kill(t, SIGUSR2);
    int st;
    if (waitpid(t, &st, 0) != t) fail("waitpid");
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
