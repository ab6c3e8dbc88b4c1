/*
 * Threads that keep making short-lived threads, as a busy thread pool does. Argument: the number of
 * slot pairs (default 64). Each thread of a slot pair waits for the other to end (pthread_join), makes
 * the next one in the other slot on its own stack, and ends, so threads are made and end all the
 * time and no tid lives long; all run on one CPU. Prints "ready" once every slot has run once; on SIGUSR2 it checks that
 * every pair still makes threads (the churn goes on after a restore; a thread the dump missed would
 * stop its pair) and prints PASS made=<n> or FAIL: reason.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

enum { STACK = 64 * 1024 };

struct slot {
    pthread_t t;
    void *stack;
    atomic_int started;
    atomic_long made; /* threads this slot's thread made: each pair must go on after a restore */
};

static struct slot *slots;
static atomic_long made;

static void *run(void *arg) {
    long me = (long)arg, other = me ^ 1;
    atomic_store(&slots[me].started, 1);
    if (atomic_load(&slots[other].started) && pthread_join(slots[other].t, NULL) != 0) fail("pthread_join");
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstack(&attr, slots[other].stack, STACK);
    if (pthread_create(&slots[other].t, &attr, run, (void *)other) != 0) fail("pthread_create");
    atomic_fetch_add(&made, 1);
    atomic_fetch_add(&slots[me].made, 1);
    return NULL;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 64;
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    /* the check signal is the main thread's alone: the others, and those they make, block it */
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &usr2, NULL);
    /* all on the first CPU the process may use: the churn must not starve the dump on the others */
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof cpus, &cpus) == 0) {
        int first = 0;
        while (first < CPU_SETSIZE && !CPU_ISSET(first, &cpus)) first++;
        CPU_ZERO(&cpus);
        CPU_SET(first, &cpus);
        sched_setaffinity(0, sizeof cpus, &cpus);
    }
    slots = calloc(n * 2, sizeof *slots);
    char *stacks = mmap(NULL, (size_t)STACK * n * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (slots == NULL || stacks == MAP_FAILED) fail("memory");
    for (long i = 0; i < n * 2; i++) slots[i].stack = stacks + i * STACK;
    for (long i = 0; i < n; i++) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstack(&attr, slots[2 * i].stack, STACK);
        if (pthread_create(&slots[2 * i].t, &attr, run, (void *)(2 * i)) != 0) fail("pthread_create");
    }
    pthread_sigmask(SIG_UNBLOCK, &usr2, NULL);
    while (atomic_load(&made) < 2 * n) usleep(1000);
    printf("ready\n");
    while (!check) pause();
    /* a thread the dump missed is not there after the restore, and its pair stops: its partner waits
       for it for ever. Every pair must make threads again */
    long *before = calloc(n, sizeof *before);
    for (long i = 0; i < n; i++) before[i] = atomic_load(&slots[2 * i].made) + atomic_load(&slots[2 * i + 1].made);
    struct timespec tick = {0, 10 * 1000 * 1000};
    for (long i = 0; i < n; i++) {
        for (int w = 0; w < 1000 && atomic_load(&slots[2 * i].made) + atomic_load(&slots[2 * i + 1].made) < before[i] + 2; w++)
            nanosleep(&tick, NULL);
        if (atomic_load(&slots[2 * i].made) + atomic_load(&slots[2 * i + 1].made) < before[i] + 2) {
            printf("FAIL: slot pair %ld stopped making threads (a thread the dump missed?)\n", i);
            fflush(stdout);
            _exit(1);
        }
    }
    printf("PASS made=%ld\n", atomic_load(&made));
    fflush(stdout);
    _exit(0);
}
