/*
 * Sessions made down a chain after the forks, as nested job-control daemons leave them: the root
 * R forks A, A forks B, B forks C, C forks D; then C, B and A each call setsid() (in that order) and
 * fork one more child (C2, B2, A2) in the session they made. D stays in R's session although its
 * parent, grandparent and great-grandparent each lead one of their own (zdtm's session01 shape,
 * refused at dump time when more than one level deep). On SIGUSR2 the root checks every task's
 * session, process group and parent. Prints "ready", then PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

enum { A, B, C, D, A2, B2, C2, N };
static const char *names[N] = { "A", "B", "C", "D", "A2", "B2", "C2" };
struct task { pid_t pid, ppid, sid, pgid; };
static volatile struct task *tasks;
static volatile int *made; /* made[i]: level i made its session and its second child (D: it is up) */

static void idle(void) {
    for (;;) pause();
}

static void record(int i) {
    signal(SIGUSR2, SIG_DFL);
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* nothing outlives a root that died */
    tasks[i].pid = getpid();
    tasks[i].ppid = getppid();
}

static void wait_for(int i) {
    for (int n = 0; !__atomic_load_n(&made[i], __ATOMIC_SEQ_CST); n++) {
        if (n > 5000) fail("a level did not come up");
        usleep(1000);
    }
}

/* Level A: forks down to D, then each level above D, deepest first, makes a session and a child in it. */
static void chain(void) {
    int i = A;
    record(A);
    while (i < D && fork() == 0) record(++i);
    if (i == D) {
        __atomic_store_n(&made[D], 1, __ATOMIC_SEQ_CST);
        idle();
    }
    wait_for(i + 1);
    if (setsid() < 0) fail("setsid");
    if (fork() == 0) {
        record(A2 + i);
        __atomic_store_n(&made[A2 + i], 1, __ATOMIC_SEQ_CST);
        idle();
    }
    wait_for(A2 + i);
    __atomic_store_n(&made[i], 1, __ATOMIC_SEQ_CST);
    idle();
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) fail("mmap");
    made = m;
    tasks = (volatile struct task *)((char *)m + 256);
    pid_t a = fork();
    if (a < 0) fail("fork");
    if (a == 0) chain();
    wait_for(A);
    for (int i = 0; i < N; i++) {
        tasks[i].sid = getsid(tasks[i].pid);
        tasks[i].pgid = getpgid(tasks[i].pid);
    }
    if (tasks[D].sid != getsid(0) || tasks[C].sid != tasks[C].pid || tasks[A2].sid != tasks[A].pid) fail("the tree is not as planned");
    printf("ready\n");
    while (!check) pause();

    int ok = 1;
    for (int i = 0; i < N; i++) {
        char stat[256], path[64];
        snprintf(path, sizeof path, "/proc/%d/stat", tasks[i].pid);
        FILE *f = fopen(path, "r");
        int ppid = -1;
        if (f && fgets(stat, sizeof stat, f)) sscanf(strrchr(stat, ')') + 2, "%*c %d", &ppid);
        if (f) fclose(f);
        if (getsid(tasks[i].pid) != tasks[i].sid || getpgid(tasks[i].pid) != tasks[i].pgid || ppid != tasks[i].ppid) {
            printf("FAIL: %s (pid %d): session %d group %d parent %d, expected %d %d %d\n", names[i], tasks[i].pid,
                   getsid(tasks[i].pid), getpgid(tasks[i].pid), ppid, tasks[i].sid, tasks[i].pgid, tasks[i].ppid);
            ok = 0;
        }
    }
    kill(a, SIGKILL); /* the rest follow it (PR_SET_PDEATHSIG) */
    waitpid(a, NULL, 0);
    if (ok) printf("PASS\n");
    return ok ? 0 : 1;
}
