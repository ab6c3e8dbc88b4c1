/* A parent and its child sharing one eventfd created before the fork: the kind of sharing cryo
 * cannot restore yet, which a dump must refuse (leaving both running). */
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int efd = eventfd(1, 0);
    if (fork() == 0) {
        for (;;) pause();
    }
    printf("ready %d\n", efd);
    for (;;) pause();
}
