/*
 * forkstorm — the rest of a busy host: forks children that exit at once, as fast as it can, and
 * reaps each one 32 forks later (a zombie holds its pid until then), so the host's next free pid
 * moves all the time and a pid just taken stays taken for a moment (a restore setting
 * ns_last_pid for a fork made from inside a user namespace meets it). Ends by itself after the
 * seconds given (default 600) or when killed, reaping what is left. Prints "ready" once going.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LAG 32

int main(int argc, char **argv) {
    time_t end = time(NULL) + (argc > 1 ? atoi(argv[1]) : 600);
    pid_t ring[LAG] = {0};
    setvbuf(stdout, NULL, _IONBF, 0);
    for (unsigned long n = 0; time(NULL) < end; n++) {
        pid_t *slot = &ring[n % LAG];
        if (*slot > 0) waitpid(*slot, NULL, 0);
        *slot = fork();
        if (*slot == 0) _exit(0);
        if (n == LAG) printf("ready\n");
    }
    while (wait(NULL) > 0) {}
    return 0;
}
