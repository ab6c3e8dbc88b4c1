/*
 * A process of 64 threads whose main thread ends it (exit_group) as soon as it runs after the restore: it
 * sleeps until a wall-clock deadline (argv[1] seconds after its start) that passes while it is frozen; the
 * other threads sit in pause(). The restore lets the threads go one after the other: the main thread runs
 * first and kills the rest while cryo is still letting them go (a stress-ng parent whose timer ran out
 * while frozen killing its workers does the same). Prints "ready", and "ending" before it exits 0.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void *idle(void *arg) {
    (void)arg;
    for (;;) pause();
    return NULL;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += argc > 1 ? atoi(argv[1]) : 3;
    for (int i = 0; i < 63; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, idle, NULL)) { printf("FAIL: pthread_create\n"); return 1; }
    }
    printf("ready\n");
    while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &deadline, NULL)) { }
    printf("ending\n");
    exit(0);
}
