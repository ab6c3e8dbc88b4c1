/*
 * A vfork parent held for as long as the test wants: after "ready" it vforks, and the child
 * blocks opening the FIFO given as argument until the test opens it for writing, then exits.
 * Meanwhile the parent sleeps uninterruptibly (state D, wchan kernel_clone) and cannot stop for a
 * tracer. Then it prints "resumed" every 100 ms (it was let go, neither stopped nor traced).
 */
#include <fcntl.h>
#include <stdio.h>
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
        int fd = open(argv[1], O_RDONLY); /* only syscalls: the child shares the parent's memory */
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
