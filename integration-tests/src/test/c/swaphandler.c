/* SIGHUP caught by one handler, swapped for another on each SIGUSR1 (as vsftpd swaps its SIGALRM
 * handler during a session): the caught signals stay the same, only the handler's address moves. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t swaps, hups;

static void first(int sig) { (void) sig; hups++; }
static void second(int sig) { (void) sig; hups += 2; }

static void catch_hup(void (*h)(int)) {
    struct sigaction a;
    memset(&a, 0, sizeof a);
    a.sa_handler = h;
    sigaction(SIGHUP, &a, NULL);
}

static void swap(int sig) {
    (void) sig;
    swaps++;
    catch_hup(swaps % 2 ? second : first);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    catch_hup(first);
    struct sigaction a;
    memset(&a, 0, sizeof a);
    a.sa_handler = swap;
    sigaction(SIGUSR1, &a, NULL);
    printf("ready\n");
    for (int seen = 0;;) {
        pause();
        if (swaps != seen) {
            seen = swaps;
            printf("swapped %d\n", seen);
        }
    }
}
