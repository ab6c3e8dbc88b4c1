/*
 * A process that raised one SysV semaphore and lowered another with SEM_UNDO: the kernel undoes
 * both when it exits, and a dump's kill is such an exit. The set is the host's and stays; after
 * the restore the values must be those the program left (5 and 1), not the undone ones (0 and 3).
 * DMTCP's sysv-sem found it. A third one raised by 17200 with SEM_UNDO: giving that adjustment back by
 * adding first went past the largest value (32767) and failed the restore with ERANGE (stress-ng's
 * sem-sysv). On SIGUSR2: PASS, else FAIL with the values.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <unistd.h>

static volatile sig_atomic_t check;
static void on_usr2(int sig) { (void)sig; check = 1; }

int main(void) {
    signal(SIGUSR2, on_usr2);
    int id = semget(IPC_PRIVATE, 3, 0600);
    if (id < 0 || semctl(id, 1, SETVAL, 3) != 0) { perror("semget"); return 1; }
    struct sembuf up = {0, 1, SEM_UNDO}, down = {1, -2, SEM_UNDO};
    for (int i = 0; i < 5; i++) semop(id, &up, 1);
    semop(id, &down, 1);
    struct sembuf big = {2, 17200, SEM_UNDO};
    if (semop(id, &big, 1)) { perror("semop"); return 1; }
    printf("ready\n");
    fflush(stdout);
    while (!check) pause();
    int a = semctl(id, 0, GETVAL), b = semctl(id, 1, GETVAL), c = semctl(id, 2, GETVAL);
    semctl(id, 0, IPC_RMID);
    if (a == 5 && b == 1 && c == 17200) printf("PASS\n");
    else printf("FAIL: values %d, %d and %d, left 5, 1 and 17200\n", a, b, c);
    fflush(stdout);
    return 0;
}
