/*
 * A POSIX named semaphore shared by a parent and a child that each sem_open it: glibc maps the
 * parent's under a temporary name it then links to the semaphore's name and unlinks (maps shows
 * "/dev/shm/sem.XXXXXX (deleted)"), the child's by the semaphore's name, as Python's
 * multiprocessing does with forkserver or spawn (it came back with the parent's a copy the
 * child no longer saw). The child waits on it; on SIGUSR2 the parent posts it and the child must
 * wake and answer. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    char name[64];
    snprintf(name, sizeof name, "/cryo-semopen-%d", getpid());
    sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
    if (s == SEM_FAILED) fail("sem_open");
    int out[2];
    if (pipe(out)) fail("pipe");
    int up[2];
    if (pipe(up)) fail("pipe");
    pid_t c = fork();
    if (c == 0) {
        /* the child maps the semaphore by its name, as a process started afresh would */
        sem_close(s);
        sem_t *mine = sem_open(name, 0);
        if (mine == SEM_FAILED || write(up[1], "u", 1) != 1) _exit(2);
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_sec += 600;
        if (sem_timedwait(mine, &t) == 0 && write(out[1], "w", 1) == 1) _exit(0);
        _exit(1);
    }
    char b;
    if (read(up[0], &b, 1) != 1) fail("the child did not open the semaphore");
    printf("ready %d\n", c);
    while (!check) pause();

    if (sem_post(s)) fail("sem_post");
    struct pollfd p = {.fd = out[0], .events = POLLIN};
    int woke = poll(&p, 1, 10000) == 1;
    sem_unlink(name);
    if (!woke) { kill(c, SIGKILL); printf("FAIL: the child did not see the post within 10 s\n"); return 1; }
    int st;
    if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) fail("the child failed");
    printf("PASS\n");
    return 0;
}
