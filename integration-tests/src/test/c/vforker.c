/*
 * A process that cannot be stopped for a while: after "ready" it vforks, and until the child
 * exits (after the given seconds) the parent sleeps uninterruptibly (state D), so ptrace's
 * interrupt cannot stop it. Used to test the seize timeout. Then it prints "resumed" every
 * 100 ms, which shows it was not left stopped or traced.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int seconds = argc > 1 ? atoi(argv[1]) : 3;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("ready\n");
    pid_t child = vfork();
    if (child == 0) {
        sleep(seconds); /* the parent is frozen in D meanwhile */
        _exit(0);
    }
    for (;;) {
        printf("resumed\n");
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}
