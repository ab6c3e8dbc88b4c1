/*
 * A child of three threads holds SEM_UNDO adjustments they share (glibc's pthread_create passes
 * CLONE_SYSVSEM): its main thread took 2 from semaphore 0; a second thread took 1 from semaphore
 * 1 (a lock), gave 1 back to semaphore 0 and posted 2 to semaphore 2, which the parent then took
 * without SEM_UNDO and posted 1. The kernel undoes them when the child's last thread exits: 5, 5
 * and 0 (1 - 2, which stops at 0). A dump dropped them: a restored child's exit undid nothing.
 * On SIGUSR2 the parent kills the child: PASS if the values were 4 4 1 before and 5 5 0 after.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t check;
static void on_usr2(int sig) { (void)sig; check = 1; }
static int id, p[2];

static void *locker(void *arg) {
    (void)arg;
    struct sembuf ops[] = {{1, -1, SEM_UNDO}, {0, 1, SEM_UNDO}, {2, 2, SEM_UNDO}};
    if (semop(id, ops, 3) || write(p[1], "x", 1) != 1) _exit(2);
    for (;;) pause();
    return NULL;
}

static void *idle(void *arg) {
    (void)arg;
    for (;;) pause();
    return NULL;
}

int main(void) {
    signal(SIGUSR2, on_usr2);
    unsigned short start[] = {5, 5, 0};
    id = semget(IPC_PRIVATE, 3, 0600);
    if (id < 0 || semctl(id, 0, SETALL, start) != 0 || pipe(p)) { perror("semget"); return 1; }
    pid_t c = fork();
    if (c == 0) {
        struct sembuf down = {0, -2, SEM_UNDO};
        pthread_t a, b;
        if (semop(id, &down, 1) || pthread_create(&a, NULL, locker, NULL) || pthread_create(&b, NULL, idle, NULL)) _exit(3);
        for (;;) pause();
    }
    char x;
    if (read(p[0], &x, 1) != 1) { perror("read"); return 1; }
    struct sembuf take = {2, -2, 0}, post = {2, 1, 0};
    if (semop(id, &take, 1) || semop(id, &post, 1)) { perror("semop"); return 1; }
    printf("ready\n");
    fflush(stdout);
    while (!check) pause();
    int b0 = semctl(id, 0, GETVAL), b1 = semctl(id, 1, GETVAL), b2 = semctl(id, 2, GETVAL);
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
    int a0 = semctl(id, 0, GETVAL), a1 = semctl(id, 1, GETVAL), a2 = semctl(id, 2, GETVAL);
    semctl(id, 0, IPC_RMID);
    if (b0 == 4 && b1 == 4 && b2 == 1 && a0 == 5 && a1 == 5 && a2 == 0) printf("PASS\n");
    else printf("FAIL: %d %d %d before the child's exit, %d %d %d after (4 4 1, then 5 5 0 expected)\n",
                b0, b1, b2, a0, a1, a2);
    fflush(stdout);
    return 0;
}
