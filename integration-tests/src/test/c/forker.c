/*
 * Keeps forking while it is being dumped: on SIGUSR1 it starts forking a child every 1 ms, up to
 * 200, each child just pausing. The children do not die with the parent, so a child the dump
 * missed would outlive a dump that kills the tree: the test looks for such leftovers.
 */
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t go;
static void on_usr1(int sig) { (void)sig; go = 1; }

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR1, on_usr1);
    printf("ready\n");
    while (!go) pause();
    for (int i = 0; i < 200; i++) {
        if (fork() == 0) {
            for (;;) pause();
        }
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (;;) pause();
}
