/*
 * Pages of a shared memory object that no area shows at the dump. One object of 8 pages, page p
 * filled with gen(p, i); argv[1] is where it comes from (anon: MAP_SHARED|MAP_ANONYMOUS, memfd:
 * memfd_create + ftruncate, fd closed), argv[2] what hides pages 1-7:
 *   remap   remap_file_pages puts object page 0 under every page of the area (stress-ng's remap
 *           stressor does such shuffles); after the check signal each page is remapped back
 *   shrunk  the area is cut to page 0 (munmap of the rest); after the signal it is grown back
 *           with mremap, which maps the object's pages 1-7 again
 *   forked  a child maps the object whole and dirties page 7; the parent cuts its own area to
 *           page 0 and the child exits: pages 1-7 live on in the object, no area shows them;
 *           after the signal the parent grows its area back
 * Then every page must hold its pattern (page 7 the child's). Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGES 8
#define PG 4096

static volatile sig_atomic_t check;
static void on_usr2(int sig) { (void)sig; check = 1; }
static void fail(const char *why) { printf("FAIL: %s\n", why); exit(1); }
static unsigned char gen(int p, int i) { return (unsigned char)(p * 37 + i * 7 + 1); }

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 3) fail("usage: shmoutside anon|memfd remap|shrunk|forked");
    const char *source = argv[1], *shape = argv[2];
    signal(SIGUSR2, on_usr2);
    int fd = -1;
    if (!strcmp(source, "memfd")) {
        fd = memfd_create("outside", 0);
        if (fd < 0 || ftruncate(fd, PAGES * PG)) fail("memfd");
    } else if (strcmp(source, "anon")) fail("unknown source");
    unsigned char *base = mmap(NULL, PAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED | (fd < 0 ? MAP_ANONYMOUS : 0), fd, 0);
    if (base == MAP_FAILED) fail("mmap");
    if (fd >= 0) close(fd);
    for (int p = 0; p < PAGES; p++)
        for (int i = 0; i < PG; i++) base[p * PG + i] = gen(p, i);

    int remap = !strcmp(shape, "remap");
    if (remap) {
        for (int p = 1; p < PAGES; p++)
            if (remap_file_pages(base + p * PG, PG, 0, 0, 0)) fail("remap_file_pages");
    } else if (!strcmp(shape, "forked")) {
        pid_t child = fork();
        if (child == 0) {
            for (int i = 0; i < PG; i++) base[7 * PG + i] = gen(7, i) ^ 0x5a;
            _exit(0);
        }
        int status;
        if (waitpid(child, &status, 0) != child || !WIFEXITED(status)) fail("child");
        if (munmap(base + PG, (PAGES - 1) * PG)) fail("munmap");
    } else if (!strcmp(shape, "shrunk")) {
        if (munmap(base + PG, (PAGES - 1) * PG)) fail("munmap");
    } else fail("unknown shape");
    printf("ready\n");
    while (!check) pause();

    if (remap) {
        for (int p = 1; p < PAGES; p++)
            if (remap_file_pages(base + p * PG, PG, 0, p, 0)) fail("remap_file_pages back");
    } else {
        unsigned char *grown = mremap(base, PG, PAGES * PG, MREMAP_MAYMOVE);
        if (grown == MAP_FAILED) fail("mremap");
        base = grown;
    }
    int forked = !strcmp(shape, "forked");
    for (int p = 0; p < PAGES; p++)
        for (int i = 0; i < PG; i++) {
            unsigned char want = gen(p, i) ^ (forked && p == 7 ? 0x5a : 0);
            if (base[p * PG + i] != want) {
                printf("FAIL: page %d byte %d holds %d, want %d\n", p, i, base[p * PG + i], want);
                return 1;
            }
        }
    printf("PASS\n");
    return 0;
}
