/* Attaches a two-page SysV shared memory segment, marks it for removal at once (it goes with the
 * process) and unmaps its second page: a segment mapped in part cannot be attached back as it was,
 * so a dump must refuse it and leave the process running. */
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int id = shmget(IPC_PRIVATE, 2 * 4096, IPC_CREAT | 0600);
    char *p = shmat(id, NULL, 0);
    if (id < 0 || p == (void *)-1) return 1;
    shmctl(id, IPC_RMID, NULL);
    if (munmap(p + 4096, 4096) != 0) return 1;
    p[0] = 1;
    printf("ready\n");
    for (;;) pause();
}
