/* Prints an increasing counter every 10 ms; used to check a traced process runs on unharmed. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("ready %d\n", getpid());
    for (unsigned long i = 0;; i++) {
        printf("tick %lu\n", i);
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}
