/*
 * A task that sets its 64 KiB area read-write again (mprotect to the protection it has) and writes
 * it every millisecond: its maps never change, but it keeps making a call that may change VmFlags.
 * Prints "ready" after its first 100; on SIGUSR2 prints "PASS calls=<n>".
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <time.h>
#include "workload.h"

int main(void) {
    struct timespec ms = {0, 1000000L};
    unsigned long n = 0;
    char *p = mmap(NULL, 64 << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        fail("mmap");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    while (!check) {
        if (mprotect(p, 64 << 10, PROT_READ | PROT_WRITE))
            fail("mprotect");
        p[n % (64 << 10)] = (char)n;
        if (++n == 100)
            printf("ready\n");
        nanosleep(&ms, NULL);
    }
    printf("PASS calls=%lu\n", n);
    return 0;
}
