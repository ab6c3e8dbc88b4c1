/*
 * deadpidns — a task that unshared a pid namespace for its children (unshare(CLONE_NEWPID), as
 * `unshare --pid` without --fork leaves its program) whose first child, the namespace's init, has
 * exited: the namespace is dead, the kernel allocates no pid in it any more, and every fork the
 * task tries fails with ENOMEM. With "zombie" the init is left unreaped, a zombie with status 7.
 * With "threads" a second thread waits beside (cryo refuses that task: a restore makes threads
 * after children, and the kernel refuses CLONE_THREAD once the children's pid namespace is not
 * the task's own). Prints "ready" and waits.
 *
 * On SIGUSR2 checks: its children's pid namespace is still not its own; a fork still fails with
 * ENOMEM; with "zombie", waitpid on the init's pid (as it saw it at the fork) gives exit status 7
 * and then there is no child left, without it there is no child at all. Prints PASS or FAIL.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

static ino_t ns_inode(const char *link) {
    struct stat st;
    if (stat(link, &st) != 0) fail(link);
    return st.st_ino;
}

static void dead(void) {
    pid_t p = fork();
    if (p == 0) _exit(99);
    if (p > 0) { waitpid(p, NULL, 0); fail("forked a child in a dead pid namespace"); }
    if (errno != ENOMEM) fail("fork in a dead pid namespace did not fail with ENOMEM");
}

static void *waiter(void *arg) {
    (void)arg;
    for (;;) pause();
    return NULL;
}

int main(int argc, char **argv) {
    int zombie = argc > 1 && strcmp(argv[1], "zombie") == 0;
    pthread_t th;
    if (argc > 1 && strcmp(argv[1], "threads") == 0 && pthread_create(&th, NULL, waiter, NULL) != 0) fail("pthread_create");
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGUSR2, on_usr2);
    if (unshare(CLONE_NEWPID) != 0) fail("unshare(CLONE_NEWPID)");
    pid_t init = fork();
    if (init < 0) fail("fork of the init");
    if (init == 0) _exit(7);
    if (!zombie && waitpid(init, NULL, 0) != init) fail("waitpid(init)");
    if (zombie) { /* dead but unreaped: its exit is all the namespace's end needs */
        siginfo_t si;
        if (waitid(P_PID, init, &si, WEXITED | WNOWAIT) != 0) fail("waitid(init, WNOWAIT)");
    }
    dead();
    if (ns_inode("/proc/self/ns/pid") == ns_inode("/proc/self/ns/pid_for_children"))
        fail("pid_for_children is its own before the dump");
    printf("ready\n");
    while (!check) pause();
    if (ns_inode("/proc/self/ns/pid") == ns_inode("/proc/self/ns/pid_for_children"))
        fail("pid_for_children is its own");
    dead();
    int status;
    if (zombie) {
        if (waitpid(init, &status, WNOHANG) != init) fail("the init is no zombie of it");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 7) fail("the init's status is not exit 7");
    }
    if (waitpid(-1, &status, WNOHANG) != -1 || errno != ECHILD) fail("a child left");
    printf("PASS\n");
    return 0;
}
