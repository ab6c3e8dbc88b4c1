/*
 * A program that keeps making inotify instances while it is dumped: inotify instances count against
 * a per-user limit (fs.inotify.max_user_instances, 128 by default) that cryo, running as the same
 * root, shares with the tree. Usage: inotifyloop CHILDREN. Forks CHILDREN children that wait (so a
 * dump has that many tasks), prints "ready", then makes and closes an inotify instance every 200 µs
 * until SIGUSR2; prints PASS, or FAIL with how many of its inotify_init1 calls were refused.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "workload.h"

int main(int argc, char **argv) {
    int children = argc > 1 ? atoi(argv[1]) : 140;
    signal(SIGUSR2, on_usr2);
    pid_t parent = getpid();
    for (int i = 0; i < children; i++) {
        pid_t c = fork();
        if (c < 0) fail("fork");
        if (c == 0) {
            // gone with the parent: the test kills only the parent, and 140 orphans outlived every run
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent) _exit(0);
            for (;;) pause();
        }
    }
    printf("ready\n");
    fflush(stdout);
    long refused = 0, made = 0;
    int lastErrno = 0;
    while (!check) {
        int fd = inotify_init1(IN_CLOEXEC);
        if (fd < 0) {
            refused++;
            lastErrno = errno;
        } else {
            made++;
            close(fd);
        }
        usleep(200);
    }
    if (refused > 0) {
        errno = lastErrno;
        printf("FAIL: %ld of %ld inotify_init1 calls refused while the tree was dumped (errno %d)\n", refused,
               refused + made, lastErrno);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
