/*
 * Orphans in the session of a task further down than their parent (zdtm's child_subreaper_and_reparent;
 * a daemon's workers under tini or a supervisor): the root (a subreaper, or the init of its own pid
 * namespace under unshare --pid --fork) forks A, A forks L, which makes its own session and forks M;
 * M forks O (left in L's group) and P (which leads a group of its own) and exits; L reaps M, and O and
 * P, orphaned, go to the root; then L becomes a subreaper itself (zdtm's order). O and P are in L's
 * session, their parent the root two levels above L (refused before: "is in session L, not its
 * parent's ..."). On SIGUSR2 the root checks parent, session and group of A, L, O and P. Prints
 * "ready" once both were adopted, then PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

static int same(const char *who, pid_t pid, pid_t sid, pid_t pgid, pid_t parent) {
    if (getsid(pid) == sid && getpgid(pid) == pgid && ppid_of(pid) == parent) {
        return 1;
    }
    printf("FAIL: %s (pid %d): session %d group %d parent %d, expected %d %d %d\n", who, pid, getsid(pid),
           getpgid(pid), ppid_of(pid), sid, pgid, parent);
    return 0;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    pid_t root = getpid();
    if (root != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) fail("PR_SET_CHILD_SUBREAPER");
    int p[2], l2a[2];
    if (pipe(p) < 0 || pipe(l2a) < 0) fail("pipe");
    pid_t a = fork();
    if (a < 0) fail("fork A");
    if (a == 0) {
        pid_t l = fork();
        if (l == 0) {
            if (setsid() < 0) _exit(2);
            pid_t m = fork();
            if (m == 0) {
                for (int k = 0; k < 2; k++) {
                    pid_t o = fork();
                    if (o == 0) {
                        if (k == 1 && setpgid(0, 0) < 0) _exit(2);
                        while (getppid() != root) usleep(1000); /* adopted by the root once M has gone */
                        pid_t me = getpid();
                        if (write(p[1], &me, sizeof me) != sizeof me) _exit(2);
                        for (int i = 0; i < 6000 && kill(root, 0) == 0; i++) usleep(100000);
                        _exit(0);
                    }
                    if (o < 0) _exit(2);
                }
                _exit(0);
            }
            if (m < 0 || waitpid(m, NULL, 0) != m) _exit(2);
            if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) _exit(2);
            char c = 1;
            if (write(l2a[1], &c, 1) != 1) _exit(2);
            for (int i = 0; i < 6000 && kill(root, 0) == 0; i++) usleep(100000);
            _exit(0);
        }
        if (l < 0) _exit(2);
        for (int i = 0; i < 6000 && kill(root, 0) == 0; i++) usleep(100000);
        _exit(0);
    }
    pid_t o, q;
    char c;
    if (read(p[0], &o, sizeof o) != sizeof o || read(p[0], &q, sizeof q) != sizeof q) fail("O and P did not come");
    if (read(l2a[0], &c, 1) != 1) fail("L did not become a subreaper");
    pid_t l = getsid(o);
    if (getpgid(q) != q) { pid_t t = o; o = q; q = t; } /* the one leading its group is P */
    if (l == getsid(root) || getpgid(o) != l || getpgid(q) != q || ppid_of(o) != root || ppid_of(q) != root
            || ppid_of(l) != a) {
        fail("setup: O and P not in L's session under the root");
    }
    printf("A %d L %d O %d P %d\nready\n", a, l, o, q);
    while (!check) pause();
    int ok = same("A", a, getsid(root), getpgid(root), root) & same("L", l, l, l, a) & same("O", o, l, l, root)
            & same("P", q, l, q, root);
    kill(a, SIGKILL);
    kill(l, SIGKILL);
    kill(o, SIGKILL);
    kill(q, SIGKILL);
    while (wait(NULL) > 0) {}
    if (ok) printf("PASS\n");
    return !ok;
}
