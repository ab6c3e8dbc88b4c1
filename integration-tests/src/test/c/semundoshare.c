/*
 * A SEM_UNDO list a restore cannot make again: by MODE
 *   process  a child cloned with CLONE_SYSVSEM but not as a thread shares the parent's list
 *            (each took 1 from a semaphore of 5 with SEM_UNDO; the last exit gives both back)
 *   thread   a thread unshared CLONE_SYSVSEM and took 1 with SEM_UNDO on a list of its own
 * The set stays while the tree lives (a shared list holds nothing in a namespace without sets): a
 * process out of the tree removes it once the tree is gone. Prints "ready", then waits (600 s at
 * most) to be killed.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

static int id, p[2];

static void take(void) {
    struct sembuf down = {0, -1, SEM_UNDO};
    if (semop(id, &down, 1)) fail("semop");
}

/* A grandchild in a session of its own (out of the tree) removes set id once the tree's end of a pipe closes. */
static void remover(void) {
    int w[2], s[2];
    if (pipe(w) || pipe(s)) fail("pipe");
    pid_t a = fork();
    if (a == 0) {
        if (fork() == 0) {
            char c;
            setsid();
            /* out of the tree's session before the tree says ready: a dump would refuse that member of its session */
            if (write(s[1], "s", 1) != 1) _exit(1);
            close(s[1]);
            close(s[0]);
            close(w[1]);
            while (read(w[0], &c, 1) > 0) {}
            semctl(id, 0, IPC_RMID);
        }
        _exit(0);
    }
    if (a < 0 || waitpid(a, NULL, 0) != a) fail("fork");
    close(w[0]);
    close(s[1]);
    char c;
    if (read(s[0], &c, 1) != 1) fail("the remover's setsid");
    close(s[0]);
}

static void *alone(void *arg) {
    (void)arg;
    if (unshare(CLONE_SYSVSEM)) fail("unshare");
    take();
    if (write(p[1], "x", 1) != 1) fail("write");
    for (;;) pause();
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: semundoshare process|thread");
    setvbuf(stdout, NULL, _IOLBF, 0);
    id = semget(IPC_PRIVATE, 1, 0600);
    if (id < 0 || semctl(id, 0, SETVAL, 5) || pipe(p)) fail("semget");
    remover();
    if (!strcmp(argv[1], "process")) {
        long c = syscall(SYS_clone, CLONE_SYSVSEM | SIGCHLD, 0, 0, 0, 0);
        if (c < 0) fail("clone");
        take();
        if (c == 0) {
            if (write(p[1], "x", 1) != 1) fail("write");
            alarm(600);
            for (;;) pause();
        }
    } else {
        pthread_t t;
        if (pthread_create(&t, NULL, alone, NULL)) fail("pthread_create");
    }
    char x;
    if (read(p[0], &x, 1) != 1) fail("read");
    printf("ready\n");
    alarm(600);
    for (;;) pause();
}
