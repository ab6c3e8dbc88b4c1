/*
 * Changes an area's advice in place, the way a task may between a pre-copy's last round and its
 * freeze: maps 4 MiB of private anonymous memory, writes it, prints "ready"; on SIGUSR1 marks the
 * whole area MADV_DONTFORK (smaps shows "dc"; the area is not split, /proc/PID/maps does not
 * change) and prints "advised". PreCopyFreezeTest.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile sig_atomic_t advise;

static void on_usr1(int sig) {
    (void)sig;
    advise = 1;
}

int main(void) {
    size_t len = 4 << 20;
    char *a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    memset(a, 0x5a, len);
    signal(SIGUSR1, on_usr1);
    printf("ready %p\n", (void *)a);
    fflush(stdout);
    while (!advise) {
        pause();
    }
    if (madvise(a, len, MADV_DONTFORK) != 0) {
        perror("madvise");
        return 1;
    }
    printf("advised\n");
    fflush(stdout);
    for (;;) {
        pause();
    }
}
