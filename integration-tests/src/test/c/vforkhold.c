/*
 * A vfork parent held for as long as the test wants: after "ready" it vforks, and the child
 * blocks opening the FIFO given as argument until the test opens it for writing, then exits.
 * Meanwhile the parent sleeps uninterruptibly (state D, wchan kernel_clone) and cannot stop for a
 * tracer. Then it prints "resumed" every 100 ms (it was let go, neither stopped nor traced).
 * The child dies with its parent (PR_SET_PDEATHSIG): a test that kills the parent leaves nothing.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("ready\n");
    pid_t child = vfork();
    if (child == 0) {
        char c;
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* only syscalls: the child shares the parent's memory */
        int fd = open(argv[1], O_RDONLY);
        if (fd >= 0) {
            read(fd, &c, 1);
        }
        _exit(0);
    }
    for (;;) {
        printf("resumed\n");
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}
