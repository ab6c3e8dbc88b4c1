/*
 * A program that moves its break by a page each time its mappings change (cryo mapping its scratch
 * area, a pre-copy round's registration), once at most 256 times, and makes no other memory call:
 * the break the image holds must be the frozen task's. A dump that kept the break read when its
 * scratch area was mapped ahead trusted a watch of memory calls that began only after the task had
 * run on: a break moved in between came back below the heap's last area, and the heap could not
 * grow after the restore (glibc's malloc fell back to mmap; MigrationTest's heapgrow.c: "the break
 * did not move"). After the restore: the break grows by 64 KiB onto pages that can be written.
 * On SIGUSR2: PASS or FAIL.
 */
#include "workload.h"
#include <fcntl.h>
#include <string.h>

static int maps_lines(void) {
    static char buf[65536];
    int fd = open("/proc/self/maps", O_RDONLY);
    if (fd < 0) fail("open maps");
    int n = 0;
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < r; i++) n += buf[i] == '\n';
    }
    close(fd);
    return n;
}

int main(void) {
    signal(SIGUSR2, on_usr2);
    printf("ready\n");
    fflush(stdout);
    char *base = sbrk(0); /* after stdout's buffer, which malloc took from the break */
    int lines = maps_lines(), moves = 0;
    for (long i = 0; !check && i < 600000; i++) { /* 10 minutes at most */
        int now = maps_lines();
        if (now != lines && moves < 256) {
            char *page = sbrk(4096);
            if (page == (void *)-1) fail("sbrk");
            page[0] = 1;
            moves++;
            now = maps_lines();
        }
        lines = now;
        usleep(1000);
    }
    char *now = sbrk(0);
    if (now != base + moves * 4096L) { printf("FAIL: the break is at %p, was %p + %d pages\n", now, base, moves); return 1; }
    char *grown = sbrk(65536);
    if (grown == (void *)-1) { printf("FAIL: the break at %p cannot grow (errno %d)\n", now, errno); return 1; }
    memset(grown, 7, 65536);
    printf("PASS %d moves\n", moves);
    return 0;
}
