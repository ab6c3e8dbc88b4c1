/* Attaches a SysV shared memory segment and marks it for removal at once (it goes with the
 * process), which cryo does not carry yet: a dump must refuse it and leave the process running. */
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    char *p = shmat(id, NULL, 0);
    if (id < 0 || p == (void *)-1) return 1;
    shmctl(id, IPC_RMID, NULL);
    p[0] = 1;
    printf("ready\n");
    for (;;) pause();
}
