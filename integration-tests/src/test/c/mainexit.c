/*
 * A process whose main thread has exited (pthread_exit) while another thread runs on: its
 * leader shows as a zombie, but the process is alive. cryo cannot dump it and must say so.
 * Prints "ready" from the remaining thread, which then sleeps.
 */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static void *worker(void *arg) {
    (void)arg;
    sleep(1); /* let main exit first */
    printf("ready\n");
    for (;;) sleep(60);
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_exit(NULL);
}
