/*
 * A task that maps shared anonymous memory (16 pages, each written) and, on each SIGUSR1, forks a
 * child that writes one page of it through its own mapping and exits at once (reaped): a write no
 * page table of the tree shows any more, which only the fork tells a pre-copy about (SharedPreCopy).
 * Prints "ready", then "forked N" after each child is reaped. On SIGUSR2: PASS if page 0 holds what
 * the last child wrote (or the pattern when none ran).
 */
#include "workload.h"
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGES 16

static volatile sig_atomic_t fork_now;
static void on_usr1(int sig) { (void)sig; fork_now = 1; }

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR1, on_usr1);
    signal(SIGUSR2, on_usr2);
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *area = mmap(NULL, PAGES * page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) fail("mmap");
    for (int i = 0; i < PAGES; i++) area[i * page] = (unsigned char)i;
    printf("ready\n");
    int forks = 0;
    while (!check) {
        pause();
        if (fork_now) {
            fork_now = 0;
            pid_t c = fork();
            if (c < 0) fail("fork");
            if (c == 0) {
                area[0] = (unsigned char)(100 + forks);
                _exit(0);
            }
            if (waitpid(c, NULL, 0) != c) fail("waitpid");
            printf("forked %d\n", ++forks);
        }
    }
    if (area[0] != (forks ? 100 + forks - 1 : 0)) fail("page 0 does not hold the last child's write");
    printf("PASS\n");
    return 0;
}
