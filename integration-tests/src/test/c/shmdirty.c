/*
 * shmdirty — two processes keep writing shared memory while being checkpointed (pre-copy).
 *
 * Usage: shmdirty [write-KiB-per-s per process]      (default 1024)
 *
 * Four shared areas, made before the fork so parent and child map each one:
 *   S  8 MiB MAP_SHARED|MAP_ANONYMOUS
 *   M  2 MiB memfd, its fd closed once mapped (nothing can write(2) it)
 *   V  2 MiB SysV segment, marked for removal once attached (IPC_RMID)
 *   K  1 MiB memfd whose fd stays open: the parent writes its pages with pwrite(2), no page table involved
 * Page p of an area belongs to the parent when p is even, to the child when odd; p % 32 == 5 is never
 * written (must read zero). Each process keeps, in its private memory, the generation it last wrote
 * to each of its pages; a page holds 512 words from a generator seeded by (area, page, generation).
 * Both rewrite their pages one after another, paced to the rate, through their own mapping (the
 * parent's K pages through pwrite). Prints "ready", then writes on. On SIGUSR2 the parent stops,
 * stops the child (SIGUSR2), each checks its own pages; the parent prints "PASS pages=N" once both
 * passed, else "FAIL: <reason>" (exit 1).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pagewords.h"

#define AREAS 4

static volatile sig_atomic_t stop;
static void on_usr2(int sig) { (void)sig; stop = 1; }

static const char *names[AREAS] = { "S", "M", "V", "K" };
static const size_t sizes[AREAS] = { 8 << 20, 2 << 20, 2 << 20, 1 << 20 };
static uint8_t *area[AREAS];
static uint32_t *gen[AREAS];
static int kfd;

static uint64_t seed_of(int a, size_t page, uint32_t g)
{
    return page_seed(((uint64_t)a << 40) + page, g);
}

static void fill(uint64_t *w, int a, size_t page, uint32_t g)
{
    fill_words(w, seed_of(a, page, g));
}

static int untouched(size_t p) { return p % 32 == 5; }

static int write_page(int a, size_t p, int parent)
{
    static uint64_t staged[WORDS];
    gen[a][p]++;
    if (a == 3 && parent) {
        fill(staged, a, p, gen[a][p]);
        return pwrite(kfd, staged, PAGE, p * PAGE) == (ssize_t)PAGE;
    }
    fill((uint64_t *)(area[a] + p * PAGE), a, p, gen[a][p]);
    return 1;
}

/* 0: every page of ours holds what we last wrote */
static int check_mine(int parent, char *why, size_t len, size_t *checked)
{
    for (int a = 0; a < AREAS; a++) {
        for (size_t p = (parent ? 0 : 1); p < sizes[a] / PAGE; p += 2) {
            const uint64_t *w = (const uint64_t *)(area[a] + p * PAGE);
            if (untouched(p)) {
                if (first_nonzero(w) >= 0) { snprintf(why, len, "%s page %zu is not zero", names[a], p); return 1; }
                continue;
            }
            if (first_difference(w, seed_of(a, p, gen[a][p])) >= 0) {
                snprintf(why, len, "%s page %zu (gen %u, written by the %s) does not hold what was last written",
                         names[a], p, gen[a][p], parent ? "parent" : "child");
                return 1;
            }
            (*checked)++;
        }
    }
    return 0;
}

static void run(int parent, double kib_per_s)
{
    size_t pages_of[AREAS], total = 0;
    for (int a = 0; a < AREAS; a++) total += pages_of[a] = sizes[a] / PAGE;
    long batch_ns = (long)(16.0 * 4.0 / kib_per_s * 1e9); /* 16 pages per batch */
    size_t k = 0;
    while (!stop) {
        for (int i = 0; i < 16 && !stop; i++) {
            k = (k + 7919) % total;
            int a = 0;
            size_t p = k;
            while (p >= pages_of[a]) p -= pages_of[a++];
            if ((p % 2 == 0) != parent || untouched(p)) continue;
            if (!write_page(a, p, parent)) { printf("FAIL: pwrite: %m\n"); fflush(stdout); exit(1); }
        }
        struct timespec ts = { batch_ns / 1000000000L, batch_ns % 1000000000L };
        nanosleep(&ts, NULL);
    }
}

int main(int argc, char **argv)
{
    double rate = argc > 1 ? strtod(argv[1], NULL) : 1024;
    area[0] = mmap(NULL, sizes[0], PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int m = memfd_create("shmdirty-m", 0);
    if (m < 0 || ftruncate(m, sizes[1])) { perror("memfd"); return 2; }
    area[1] = mmap(NULL, sizes[1], PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
    close(m);
    int id = shmget(IPC_PRIVATE, sizes[2], IPC_CREAT | 0600);
    area[2] = id < 0 ? MAP_FAILED : shmat(id, NULL, 0);
    if (id >= 0) shmctl(id, IPC_RMID, NULL);
    kfd = memfd_create("shmdirty-k", 0);
    if (kfd < 0 || ftruncate(kfd, sizes[3])) { perror("memfd"); return 2; }
    area[3] = mmap(NULL, sizes[3], PROT_READ | PROT_WRITE, MAP_SHARED, kfd, 0);
    for (int a = 0; a < AREAS; a++) {
        if (area[a] == MAP_FAILED || area[a] == (void *)-1) { perror("map"); return 2; }
        gen[a] = calloc(sizes[a] / PAGE, sizeof(uint32_t));
    }
    /* every page written once before the fork; each side then keeps its own generations */
    for (int a = 0; a < AREAS; a++)
        for (size_t p = 0; p < sizes[a] / PAGE; p++)
            if (!untouched(p)) write_page(a, p, a != 3);
    signal(SIGUSR2, on_usr2);
    pid_t child = fork();
    if (child < 0) { perror("fork"); return 2; }
    if (child == 0) {
        run(0, rate);
        char why[200];
        size_t checked = 0;
        if (check_mine(0, why, sizeof why, &checked)) {
            printf("FAIL: %s\n", why);
            fflush(stdout);
            _exit(1);
        }
        _exit(0);
    }
    printf("ready\n");
    fflush(stdout);
    run(1, rate);
    kill(child, SIGUSR2);
    char why[200];
    size_t checked = 0;
    int bad = check_mine(1, why, sizeof why, &checked);
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("FAIL: the child's pages are not as it last wrote them (status 0x%x)\n", status);
        return 1;
    }
    if (bad) {
        printf("FAIL: %s\n", why);
        return 1;
    }
    printf("PASS pages=%zu\n", checked);
    return 0;
}
