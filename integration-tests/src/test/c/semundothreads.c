/*
 * A child of three threads holds SEM_UNDO adjustments they share (glibc's pthread_create passes
 * CLONE_SYSVSEM): its main thread took 2 from semaphore 0; a second thread took 1 from semaphore
 * 1 (a lock) and gave 1 back to semaphore 0. The kernel gives them back when the child's last
 * thread exits (5 and 5 again). A dump dropped them: a restored child's exit gave nothing back.
 * On SIGUSR2 the parent kills the child: PASS if the values were 4 and 4 before and 5 and 5 after.
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
    struct sembuf ops[] = {{1, -1, SEM_UNDO}, {0, 1, SEM_UNDO}};
    if (semop(id, ops, 2) || write(p[1], "x", 1) != 1) _exit(2);
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
    unsigned short five[] = {5, 5};
    id = semget(IPC_PRIVATE, 2, 0600);
    if (id < 0 || semctl(id, 0, SETALL, five) != 0 || pipe(p)) { perror("semget"); return 1; }
    pid_t c = fork();
    if (c == 0) {
        struct sembuf down = {0, -2, SEM_UNDO};
        pthread_t a, b;
        if (semop(id, &down, 1) || pthread_create(&a, NULL, locker, NULL) || pthread_create(&b, NULL, idle, NULL)) _exit(3);
        for (;;) pause();
    }
    char x;
    if (read(p[0], &x, 1) != 1) { perror("read"); return 1; }
    printf("ready\n");
    fflush(stdout);
    while (!check) pause();
    int b0 = semctl(id, 0, GETVAL), b1 = semctl(id, 1, GETVAL);
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
    int a0 = semctl(id, 0, GETVAL), a1 = semctl(id, 1, GETVAL);
    semctl(id, 0, IPC_RMID);
    if (b0 == 4 && b1 == 4 && a0 == 5 && a1 == 5) printf("PASS\n");
    else printf("FAIL: %d and %d before the child's exit, %d and %d after (4 4, then 5 5 expected)\n", b0, b1, a0, a1);
    fflush(stdout);
    return 0;
}
