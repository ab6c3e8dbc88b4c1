/*
 * A child that took 2 from a SysV semaphore (5) with SEM_UNDO: the kernel gives them back when
 * it exits. After a dump that left the tree running, and after a restore, its exit must still
 * give them back (5 again), not leave 3: its adjustment was dropped (zdtmf42's sem_undo). On
 * SIGUSR2 the parent kills the child: PASS if the value was 3 before and is 5 after, else FAIL.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t check;
static void on_usr2(int sig) { (void)sig; check = 1; }

int main(void) {
    signal(SIGUSR2, on_usr2);
    int id = semget(IPC_PRIVATE, 1, 0600), p[2];
    if (id < 0 || semctl(id, 0, SETVAL, 5) != 0 || pipe(p)) { perror("semget"); return 1; }
    pid_t c = fork();
    if (c == 0) {
        struct sembuf down = {0, -2, SEM_UNDO};
        if (semop(id, &down, 1)) _exit(2);
        if (write(p[1], "x", 1) != 1) _exit(3);
        for (;;) pause();
    }
    char x;
    if (read(p[0], &x, 1) != 1) { perror("read"); return 1; }
    printf("ready\n");
    fflush(stdout);
    while (!check) pause();
    int before = semctl(id, 0, GETVAL);
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
    int after = semctl(id, 0, GETVAL);
    semctl(id, 0, IPC_RMID);
    if (before == 3 && after == 5) printf("PASS\n"); else printf("FAIL: %d before the child's exit, %d after (3 and 5 expected)\n", before, after);
    fflush(stdout);
    return 0;
}
