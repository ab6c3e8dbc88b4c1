/*
 * A daemon's grandchildren under a subreaper, as under tini or dumb-init: the root sets
 * PR_SET_CHILD_SUBREAPER and forks D; D calls setsid and forks C1 (in D's group) and C2 (which
 * leads a group of its own), then exits: C1 and C2 come to the root, in a session whose leader
 * is gone (zdtm's session02 shape; refused before, since a restore put them in the root's
 * session). With argument "nested", D also forks E, which makes a group of its own, forks C3 in it
 * and exits: C3 comes to the root in a group and a session whose leaders are both gone (a job of
 * a shell that a daemon ran; refused before: "is in process group N, whose leader is not in the
 * tree"). With argument "zombie", D also forks Z, which exits with status 5, and waits for it
 * without reaping it: Z comes to the root a zombie in D's session and group (zdtm's
 * helper_zombie_child; refused before: "is in session N, not its parent's"). On SIGUSR2 the root
 * checks sessions, groups and parents. With argument "leads", D also forks X, which forks Y and then
 * makes a session of its own: X comes to the root leading its session, its child Y in D's (a worker
 * that forked before it detached; zdtm's session02 has that piece; refused before: "is in session N,
 * whose leader has exited, as are children of pid R"). Prints "ready" once the tree is set up, then PASS or FAIL:
 * reason.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

static void idle(void) {
    for (;;) pause();
}

int main(int argc, char **argv) {
    int nested = argc > 1 && argv[1][0] == 'n';
    int zombie = argc > 1 && argv[1][0] == 'z';
    int leads = argc > 1 && argv[1][0] == 'l';
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) fail("PR_SET_CHILD_SUBREAPER");
    volatile pid_t *ids = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ids == MAP_FAILED) fail("mmap");
    pid_t d = fork();
    if (d == 0) {
        signal(SIGUSR2, SIG_DFL);
        if (setsid() < 0) fail("setsid");
        pid_t c1 = fork();
        if (c1 == 0) idle();
        pid_t c2 = fork();
        if (c2 == 0) {
            if (setpgid(0, 0) < 0) fail("setpgid");
            idle();
        }
        if (nested) {
            pid_t e = fork();
            if (e == 0) {
                if (setpgid(0, 0) < 0) fail("setpgid E");
                pid_t c3 = fork();
                if (c3 == 0) idle();
                ids[3] = c3;
                ids[4] = getpid();
                _exit(0);
            }
            if (waitpid(e, NULL, 0) != e) fail("waitpid E");
        }
        if (leads) {
            pid_t x = fork();
            if (x == 0) {
                pid_t y = fork();
                if (y == 0) idle();
                ids[7] = y;
                if (setsid() < 0) fail("setsid X");
                ids[6] = getpid();
                idle();
            }
            for (int i = 0; i < 500 && !ids[6]; i++) usleep(10000);
        }
        if (zombie) {
            pid_t z = fork();
            if (z == 0) _exit(5);
            siginfo_t si = {0};
            if (waitid(P_PID, z, &si, WEXITED | WNOWAIT) < 0) fail("waitid Z");
            ids[5] = z;
        }
        ids[1] = c1;
        ids[2] = c2;
        for (int i = 0; i < 500 && getpgid(c2) != c2; i++) usleep(10000);
        _exit(0);
    }
    if (waitpid(d, NULL, 0) != d) fail("waitpid");
    if (!ids[2]) fail("the tree did not come up");
    for (int i = 0; i < 500 && (ppid_of(ids[1]) != getpid() || ppid_of(ids[2]) != getpid()
                                || (nested && ppid_of(ids[3]) != getpid())
                                || (zombie && ppid_of(ids[5]) != getpid())
                                || (leads && ppid_of(ids[6]) != getpid())); i++) usleep(10000);
    printf("ready\n");
    while (!check) pause();

    int subreaper = 0;
    prctl(PR_GET_CHILD_SUBREAPER, &subreaper);
    int ok = getsid(ids[1]) == d && getpgid(ids[1]) == d && getsid(ids[2]) == d && getpgid(ids[2]) == ids[2]
             && ppid_of(ids[1]) == getpid() && ppid_of(ids[2]) == getpid() && subreaper == 1;
    if (!ok) printf("FAIL: C1 session %d group %d parent %d, C2 session %d group %d parent %d (want %d, %d/%d, %d);"
                    " subreaper %d\n", getsid(ids[1]), getpgid(ids[1]), ppid_of(ids[1]), getsid(ids[2]),
                    getpgid(ids[2]), ppid_of(ids[2]), d, d, ids[2], getpid(), subreaper);
    if (nested && ok && (getsid(ids[3]) != d || getpgid(ids[3]) != ids[4] || ppid_of(ids[3]) != getpid())) {
        printf("FAIL: C3 session %d group %d parent %d (want %d, %d, %d)\n", getsid(ids[3]), getpgid(ids[3]),
               ppid_of(ids[3]), d, ids[4], getpid());
        ok = 0;
    }
    if (leads && ok && (getsid(ids[6]) != ids[6] || getpgid(ids[6]) != ids[6] || ppid_of(ids[6]) != getpid()
                        || getsid(ids[7]) != d || getpgid(ids[7]) != d || ppid_of(ids[7]) != ids[6])) {
        printf("FAIL: X session %d group %d parent %d (want %d, %d, %d); Y session %d group %d parent %d (want %d,"
               " %d, %d)\n", getsid(ids[6]), getpgid(ids[6]), ppid_of(ids[6]), ids[6], ids[6], getpid(),
               getsid(ids[7]), getpgid(ids[7]), ppid_of(ids[7]), d, d, ids[6]);
        ok = 0;
    }
    if (zombie && ok) {
        siginfo_t si = {0};
        if (getsid(ids[5]) != d || getpgid(ids[5]) != d || ppid_of(ids[5]) != getpid()
            || waitid(P_PID, ids[5], &si, WEXITED | WNOWAIT | WNOHANG) < 0 || si.si_pid != ids[5]
            || si.si_code != CLD_EXITED || si.si_status != 5) {
            printf("FAIL: Z %d session %d group %d parent %d, waited pid %d code %d status %d (want %d, %d, %d,"
                   " a zombie that exited with 5)\n", ids[5], getsid(ids[5]), getpgid(ids[5]), ppid_of(ids[5]),
                   si.si_pid, si.si_code, si.si_status, d, d, getpid());
            ok = 0;
        }
        waitpid(ids[5], NULL, 0);
    }
    kill(ids[1], SIGKILL);
    kill(ids[2], SIGKILL);
    waitpid(ids[1], NULL, 0);
    waitpid(ids[2], NULL, 0);
    if (leads) {
        kill(ids[7], SIGKILL);
        kill(ids[6], SIGKILL);
        waitpid(ids[6], NULL, 0);
    }
    if (nested) {
        kill(ids[3], SIGKILL);
        waitpid(ids[3], NULL, 0);
    }
    if (ok) printf("PASS\n");
    return ok ? 0 : 1;
}
