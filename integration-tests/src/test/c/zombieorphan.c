/*
 * zombieorphan — an orphan the pid namespace's init adopted, left in the session of a zombie that
 * led it, the zombie a grandchild of the init (zdtm's zombie_leader in its ns flavor).
 *
 * Run as the init of a pid namespace (unshare --pid --fork). The init forks M; M forks L; L makes
 * its own session, forks C and exits with status 7; M never reaps L; C, orphaned, goes to the
 * init. Prints "ready". On SIGUSR2 the init checks that C is its child, in session and group L,
 * and that L is still a zombie child of M, then prints "PASS" or "FAIL: <reason>" and ends them.
 * Everything ends after 300 s.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

/* The state letter of pid in /proc/PID/stat, or '?' when it cannot be read. */
static char state_of(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    char s = '?';
    if (f) {
        if (fscanf(f, "%*d (%*[^)]) %c", &s) != 1) s = '?';
        fclose(f);
    }
    return s;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int ids[2];
    if (pipe(ids) < 0) fail("pipe");
    pid_t init = getpid();
    pid_t m = fork();
    if (m < 0) fail("fork M");
    if (m == 0) {
        pid_t l = fork();
        if (l < 0) _exit(1);
        if (l == 0) {
            if (setsid() < 0) _exit(1);
            pid_t c = fork();
            if (c < 0) _exit(1);
            if (c == 0) {
                for (int i = 0; i < 3000; i++) usleep(100000);
                _exit(0);
            }
            pid_t both[2] = {getpid(), c};
            if (write(ids[1], both, sizeof both) != sizeof both) _exit(1);
            _exit(7);
        }
        for (int i = 0; i < 3000 && getppid() == init; i++) usleep(100000); /* L stays its zombie */
        _exit(0);
    }
    pid_t both[2];
    if (read(ids[0], both, sizeof both) != sizeof both) fail("read L and C");
    pid_t l = both[0], c = both[1];
    for (int i = 0; i < 3000 && (ppid_of(c) != init || state_of(l) != 'Z'); i++) usleep(10000);
    if (ppid_of(c) != init) fail("C was not adopted by the init");
    printf("ready\n");
    for (int i = 0; i < 3000 && !check; i++) usleep(100000);
    char verdict[200] = "PASS";
    if (ppid_of(c) != init)
        snprintf(verdict, sizeof verdict, "FAIL: C %d has parent %d, not the init %d", c, ppid_of(c), init);
    else if (getsid(c) != l)
        snprintf(verdict, sizeof verdict, "FAIL: C %d is in session %d, not %d", c, getsid(c), l);
    else if (getpgid(c) != l)
        snprintf(verdict, sizeof verdict, "FAIL: C %d is in group %d, not %d", c, getpgid(c), l);
    else if (state_of(l) != 'Z' || ppid_of(l) != m)
        snprintf(verdict, sizeof verdict, "FAIL: L %d is '%c' with parent %d, not M %d's zombie", l, state_of(l),
                 ppid_of(l), m);
    kill(c, SIGKILL);
    kill(m, SIGKILL);
    while (wait(NULL) > 0) {
    }
    printf("%s\n", verdict);
    return strcmp(verdict, "PASS") == 0 ? 0 : 1;
}
