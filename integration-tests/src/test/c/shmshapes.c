/*
 * One shared memory object of 8 pages, split and windowed in different ways, shared by a parent
 * and its child. argv[1] is where the object comes from:
 *   anon     mmap(MAP_SHARED|MAP_ANONYMOUS)
 *   devzero  mmap(MAP_SHARED) of /dev/zero
 *   memfd    memfd_create("shapes"), ftruncate, mmap(MAP_SHARED), fd closed
 * argv[2] is the shape:
 *   mprotect  pages 3-4 made read-only: three mappings in both tasks; the parent fills every page
 *             before fork, the child never touches them (it has no page table entries for them)
 *   mremap    pages 5-7 moved elsewhere with mremap before fork
 *   munmap    page 2 unmapped before fork; after fork the child unmaps pages 5-6 too
 *   window    after fork the parent unmaps pages 0-1 and the child pages 6-7: each maps a window
 *             the other does not; pages 2-5 are filled before fork, 0-1 only through the child,
 *             6-7 only through the parent
 * Page p holds gen(p, i) at byte i >= 8; word 0 of each page is a mailbox.
 * A second shared page (ctl) is the control channel: the child counts in ctl[0], answers check
 * requests (ctl[3]) by verifying every page of its own view and writing its verdict in ctl[4],
 * writes a token into word 0 of its writable pages and their mask into ctl[6].
 * On SIGUSR2 the parent verifies its view, writes its own tokens, asks the child to verify and
 * answer, then checks the child's tokens in the pages both map writable: still one memory.
 * Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define PAGES 8
#define PG 4096

static volatile sig_atomic_t check;
static void on_usr2(int sig) { (void)sig; check = 1; }
static void nap(long ms) { struct timespec ts = {0, ms * 1000000L}; nanosleep(&ts, NULL); }
static void fail(const char *why) { printf("FAIL: %s\n", why); exit(1); }

static unsigned char gen(int p, int i) { return (unsigned char)(p * 37 + i * 7 + 1); }

/* where this task sees page p of the object (NULL: not mapped), and whether it may write it */
static unsigned char *view[PAGES];
static int writable[PAGES];

static void fill(int p) {
    for (int i = 8; i < PG; i++) view[p][i] = gen(p, i);
}

/* 0 when every page of this task's view holds its pattern, else 1 + the first bad page */
static int verify(void) {
    for (int p = 0; p < PAGES; p++) {
        if (!view[p]) continue;
        for (int i = 8; i < PG; i++)
            if (view[p][i] != gen(p, i)) return p + 1;
    }
    return 0;
}

static void unmap(int from, int to) { /* pages [from, to) of this task's view */
    for (int p = from; p < to; p++) {
        if (munmap(view[p], PG)) fail("munmap");
        view[p] = NULL;
    }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 3) fail("usage: shmshapes anon|devzero|memfd mprotect|mremap|munmap|window");
    const char *source = argv[1], *shape = argv[2];
    signal(SIGUSR2, on_usr2);
    volatile uint64_t *ctl = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ctl == MAP_FAILED) fail("mmap ctl");

    int fd = -1;
    if (!strcmp(source, "devzero")) fd = open("/dev/zero", O_RDWR);
    else if (!strcmp(source, "memfd")) {
        fd = memfd_create("shapes", 0);
        if (fd >= 0 && ftruncate(fd, PAGES * PG)) fail("ftruncate");
    } else if (strcmp(source, "anon")) fail("unknown source");
    if (strcmp(source, "anon") && fd < 0) fail("open the object");
    unsigned char *base = mmap(NULL, PAGES * PG, PROT_READ | PROT_WRITE,
                               MAP_SHARED | (fd < 0 ? MAP_ANONYMOUS : 0), fd, 0);
    if (base == MAP_FAILED) fail("mmap object");
    if (fd >= 0) close(fd);
    for (int p = 0; p < PAGES; p++) {
        view[p] = base + p * PG;
        writable[p] = 1;
    }

    int window = !strcmp(shape, "window");
    for (int p = 0; p < PAGES; p++)
        if (!window || (p >= 2 && p < 6)) fill(p);
    if (!strcmp(shape, "mprotect")) {
        if (mprotect(base + 3 * PG, 2 * PG, PROT_READ)) fail("mprotect");
        writable[3] = writable[4] = 0;
    } else if (!strcmp(shape, "mremap")) {
        unsigned char *spot = mmap(NULL, 3 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        unsigned char *moved = mremap(base + 5 * PG, 3 * PG, 3 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, spot);
        if (moved == MAP_FAILED) fail("mremap");
        for (int p = 5; p < PAGES; p++) view[p] = moved + (p - 5) * PG;
    } else if (!strcmp(shape, "munmap")) {
        unmap(2, 3);
    } else if (!window) fail("unknown shape");

    pid_t parent = getpid();
    if (fork() == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(0);
        if (!strcmp(shape, "munmap")) unmap(5, 7);
        if (window) {
            unmap(6, 8);
            for (int p = 0; p < 2; p++) fill(p);
        }
        ctl[5] = 1;
        for (;;) {
            ctl[0]++;
            if (ctl[3] == 1) {
                int bad = verify();
                uint64_t mine = 0;
                for (int p = 0; p < PAGES; p++)
                    if (view[p] && writable[p]) {
                        ((volatile uint64_t *)view[p])[0] = 0xc0de0000u + p;
                        mine |= 1u << p;
                    }
                ctl[6] = mine;
                ctl[4] = bad ? 100 + bad : 1;
                ctl[3] = 2;
            }
            nap(5);
        }
    }
    while (ctl[5] != 1) nap(1);
    if (window) {
        unmap(0, 2);
        for (int p = 6; p < PAGES; p++) fill(p);
    }
    printf("ready\n");
    while (!check) pause();

    int bad = verify();
    if (bad) {
        printf("FAIL: page %d of the parent's view lost its contents\n", bad - 1);
        return 1;
    }
    uint64_t before = ctl[0];
    ctl[3] = 1;
    for (int i = 0; i < 400 && ctl[3] != 2; i++) nap(5);
    if (ctl[3] != 2) fail("the child does not answer");
    if (ctl[4] != 1) {
        printf("FAIL: page %d of the child's view lost its contents\n", (int)ctl[4] - 101);
        return 1;
    }
    if (ctl[0] <= before) fail("the child's counter does not move");
    int shared = 0;
    for (int p = 0; p < PAGES; p++) {
        if (!view[p] || !writable[p] || !(ctl[6] & (1u << p))) continue;
        uint64_t w = ((volatile uint64_t *)view[p])[0];
        if (w == 0xc0de0000u + p) shared++;
        else {
            printf("FAIL: page %d: the child's write is not seen by the parent (%llx)\n", p, (unsigned long long)w);
            return 1;
        }
    }
    if (shared == 0) fail("no page is shared any more");
    printf("PASS shared=%d\n", shared);
    return 0;
}
