/*
 * A program that keeps using its memory in every way a lazy restore's page server must follow, so that
 * right after the restore each of them meets pages not in yet:
 *  - a thread and the main thread read random pages of a 96 MiB area A, each page holding its index;
 *  - area D (1 MiB) is thrown away (MADV_DONTNEED) and must then read zero, then is filled again;
 *  - area M (1 MiB) moves between two addresses (mremap) and must keep its bytes;
 *  - a child is forked, reads random pages of A and M, and exits 0 only if they are right (only while the file
 *    named by argv[1] exists: the test makes it after the dump, so that no dump catches a child);
 *  - a page of area P is read into from a pipe (the kernel's own write there) with the bytes it holds.
 * Prints "ready"; on SIGUSR2 prints PASS with the rounds made, or FAIL: reason (any round that went wrong).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "workload.h"

#define PAGE 4096L
#define A_PAGES (96L * 256)
#define SMALL (256L * PAGE)

static unsigned char *A, *D, *P, *M, *M_AT[2];
static volatile const char *failed;
static volatile long rounds;
static const char *fork_flag;

static unsigned long rnd(unsigned long *s) {
    *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
    return *s;
}

static void fill(unsigned char *at, long pages, long salt) {
    for (long i = 0; i < pages; i++) {
        long *w = (long *)(at + i * PAGE);
        for (int k = 0; k < PAGE / 8; k++) w[k] = i * 1000003L + k + salt;
    }
}

static int right(const unsigned char *at, long i, long salt) {
    const long *w = (const long *)(at + i * PAGE);
    return w[0] == i * 1000003L + salt && w[PAGE / 8 - 1] == i * 1000003L + PAGE / 8 - 1 + salt;
}

static const char *readA(unsigned long *s, int n) {
    for (int k = 0; k < n; k++) {
        long i = rnd(s) % A_PAGES;
        if (!right(A, i, 1)) return "a page of A holds other bytes";
    }
    return NULL;
}

static void *reader(void *arg) {
    unsigned long s = 88172645463325252UL;
    (void)arg;
    for (;;) {
        const char *why = readA(&s, 256);
        if (why && !failed) failed = why;
        usleep(1000);
    }
    return NULL;
}

/* each round begins with what the page server must follow (right after the restore, the pages are not in yet) */
static const char *round_once(unsigned long *s, int *at) {
    if (madvise(D, SMALL, MADV_DONTNEED)) return "madvise(D)";
    for (long i = 0; i < SMALL; i += PAGE) if (D[i] || D[i + PAGE - 1]) return "D holds bytes after MADV_DONTNEED";
    fill(D, SMALL / PAGE, 3);
    unsigned char *to = mremap(M, SMALL, SMALL, MREMAP_MAYMOVE | MREMAP_FIXED, M_AT[!*at]);
    if (to == MAP_FAILED) return "mremap(M)";
    M = to;
    *at = !*at;
    for (long i = 0; i < SMALL / PAGE; i += 7) if (!right(M, i, 4)) return "a page of M holds other bytes after its move";
    int fds[2];
    if (pipe(fds)) return "pipe";
    long p = rnd(s) % (SMALL / PAGE);
    unsigned char page[PAGE];
    memcpy(page, P + p * PAGE, PAGE); /* the bytes it holds, read back into it by the kernel */
    if (write(fds[1], page, PAGE) != PAGE || read(fds[0], P + p * PAGE, PAGE) != PAGE) return "pipe round trip";
    close(fds[0]);
    close(fds[1]);
    for (long i = 0; i < SMALL / PAGE; i += 5) if (!right(P, i, 2)) return "a page of P holds other bytes";
    if (access(fork_flag, F_OK)) return readA(s, 64);
    pid_t c = fork();
    if (c < 0) return "fork";
    if (c == 0) {
        unsigned long cs = *s + 1;
        for (int k = 0; k < 128; k++) {
            long i = rnd(&cs) % A_PAGES;
            if (!right(A, i, 1)) {
                printf("child %d: page %ld of A holds %ld\n", getpid(), i, *(long *)(A + i * PAGE));
                _exit(1);
            }
        }
        long m = rnd(&cs) % (SMALL / PAGE);
        if (!right(M, m, 4)) {
            printf("child %d: page %ld of M (at %p) holds %ld\n", getpid(), m, (void *)M, *(long *)(M + m * PAGE));
            _exit(1);
        }
        _exit(0);
    }
    int st;
    pid_t w = waitpid(c, &st, 0);
    if (w != c) return "waitpid of a forked child failed";
    if (!WIFEXITED(st)) return WIFSIGNALED(st) ? "a forked child was killed by a signal" : "a forked child stopped";
    if (WEXITSTATUS(st) != 0) return "a forked child read wrong bytes";
    return readA(s, 64);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) fail("usage: lazymem FORK_FLAG_FILE");
    fork_flag = argv[1];
    signal(SIGUSR2, on_usr2);
    A = mmap(NULL, A_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    D = mmap(NULL, SMALL, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    P = mmap(NULL, SMALL, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    /* two places for M between inaccessible pages, so that M never lies next to another area of its kind */
    unsigned char *span = mmap(NULL, 2 * SMALL + 3 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (A == MAP_FAILED || D == MAP_FAILED || P == MAP_FAILED || span == MAP_FAILED) fail("mmap");
    M_AT[0] = span + PAGE;
    M_AT[1] = span + SMALL + 2 * PAGE;
    M = mmap(M_AT[0], SMALL, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (M == MAP_FAILED) fail("mmap(M)");
    fill(A, A_PAGES, 1);
    fill(P, SMALL / PAGE, 2);
    fill(D, SMALL / PAGE, 3);
    fill(M, SMALL / PAGE, 4);
    pthread_t t;
    if (pthread_create(&t, NULL, reader, NULL)) fail("pthread_create");
    unsigned long s = 2463534242UL;
    int at = 0;
    printf("ready\n");
    while (!check) {
        const char *why = round_once(&s, &at);
        if (why && !failed) failed = why;
        rounds++;
        usleep(2000);
    }
    if (failed) {
        printf("FAIL: %s\n", failed);
        return 1;
    }
    printf("PASS rounds=%ld\n", rounds);
    return 0;
}
