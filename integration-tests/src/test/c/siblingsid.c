/*
 * An orphan in the session of its live sibling (zdtm's session01 in a container): run as the init of
 * a pid namespace (unshare --pid --fork), the root forks L, which makes its own session and forks M,
 * which forks O and exits; L reaps M, and O, orphaned, goes to the root. O stays in L's session and
 * group, its parent the root: neither its parent's session nor one it leads (refused before: "is in
 * session L, not its parent's ..."). On SIGUSR2 the root checks O's and L's parent, session and
 * group. Prints "ready" once O has been adopted, then PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int p[2];
    if (pipe(p) < 0) fail("pipe");
    pid_t l = fork();
    if (l < 0) fail("fork L");
    if (l == 0) {
        if (setsid() < 0) _exit(2);
        pid_t m = fork();
        if (m == 0) {
            pid_t o = fork();
            if (o == 0) {
                while (getppid() != 1) usleep(1000); /* adopted by the root once M has gone */
                pid_t me = getpid();
                if (write(p[1], &me, sizeof me) != sizeof me) _exit(2);
                for (int i = 0; i < 6000 && kill(1, 0) == 0; i++) usleep(100000);
                _exit(0);
            }
            _exit(o < 0 ? 2 : 0);
        }
        if (m < 0 || waitpid(m, NULL, 0) != m) _exit(2);
        for (int i = 0; i < 6000 && getppid() == 1; i++) usleep(100000);
        _exit(0);
    }
    pid_t o;
    if (read(p[0], &o, sizeof o) != sizeof o) fail("O did not come");
    if (getsid(o) != l || getpgid(o) != l || ppid_of(o) != getpid()) fail("setup: O not in L's session under the root");
    printf("L %d O %d\nready\n", l, o);
    while (!check) pause();
    int bad = 0;
    if (getsid(l) != l || getpgid(l) != l || ppid_of(l) != getpid()) { printf("FAIL: L: session %d group %d parent %d\n",
            getsid(l), getpgid(l), ppid_of(l)); bad = 1; }
    if (getsid(o) != l || getpgid(o) != l || ppid_of(o) != getpid()) { printf("FAIL: O: session %d group %d parent %d\n",
            getsid(o), getpgid(o), ppid_of(o)); bad = 1; }
    kill(l, SIGKILL);
    kill(o, SIGKILL);
    while (wait(NULL) > 0) {}
    if (!bad) printf("PASS\n");
    return bad;
}
