/*
 * A service that keeps spawning helpers by vfork + exec, as posix_spawn and shells do: each child
 * works about argv[1] ms in the parent's memory before its exec of /bin/true (so a freeze lands
 * between vfork and exec most of the time), and the parent waits for it and prints the count.
 * The child dies with its parent (PR_SET_PDEATHSIG): a test that kills the parent leaves nothing.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long nowNanos(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
    long long window = (argc > 1 ? atoll(argv[1]) : 50) * 1000000LL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("ready\n");
    for (long n = 1;; n++) {
        pid_t child = vfork();
        if (child == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            long long until = nowNanos() + window;
            while (nowNanos() < until) {
            }
            execl("/bin/true", "true", (char *) NULL);
            _exit(127);
        }
        int status;
        if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            printf("FAIL spawn %ld\n", n);
            return 1;
        }
        printf("%ld\n", n);
    }
}
