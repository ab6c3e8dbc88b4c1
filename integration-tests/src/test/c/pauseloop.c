/*
 * The plainest check loop: a SIGUSR2 handler sets a flag, and main waits in pause() until it is
 * set. pause() returns EINTR after a handler ran, so a check signal that arrives at any moment,
 * even before the restored program has run an instruction, must end the loop: PASS.
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static volatile sig_atomic_t check;

static void on_usr2(int sig) {
    (void)sig;
    check = 1;
}

int main(void) {
    signal(SIGUSR2, on_usr2);
    printf("ready\n");
    fflush(stdout);
    while (!check) pause();
    printf("PASS\n");
    fflush(stdout);
    return 0;
}
