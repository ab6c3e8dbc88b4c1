/*
 * Maps 64 KiB of private anonymous memory readable, writable and executable as the task's lowest
 * area, with no hole above it where a small mapping fits: the next mmap lands right below it, as
 * cryo's scratch area did below varnish's thread stacks (executable: its compiled VCL asks for an
 * executable stack). Every hole among the areas above is filled first with read-only pages, one at a
 * time, until the kernel hands out a page below them all. With the argument "noreserve" the area is
 * mapped MAP_NORESERVE, as SBCL maps its spaces. Prints "ready ADDR", then waits.
 * TaskCollectorTest.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/** The start of the lowest mapping above the heap: the bottom of the mmap region. */
static unsigned long lowest_mapping(void) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) exit(2);
    unsigned long start, end, low = ~0UL, heap_end = (unsigned long)sbrk(0);
    while (fscanf(f, "%lx-%lx%*[^\n]\n", &start, &end) == 2)
        if (start > heap_end && start < low) low = start;
    fclose(f);
    return low;
}

int main(int argc, char **argv) {
    unsigned long low = lowest_mapping();
    for (;;) {
        char *page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (page == MAP_FAILED) return 2;
        if ((unsigned long)page < low) {
            munmap(page, 4096); /* below every area: the holes above are filled */
            break;
        }
    }
    size_t len = 64 << 10;
    int noreserve = argc > 1 && argv[1][0] == 'n' ? MAP_NORESERVE : 0;
    unsigned char *a = mmap(NULL, len, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | noreserve, -1, 0);
    if (a == MAP_FAILED) return 2;
    a[0] = 1;
    printf("ready %p\n", (void *)a);
    fflush(stdout);
    for (;;) pause();
}
