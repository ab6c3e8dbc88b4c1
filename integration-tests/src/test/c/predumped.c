/*
 * predumped — memory written between a pre-dump and the dump after it (cryo pre-dump, then
 * cryo dump --prev-images-dir).
 *
 * Usage: predumped [size-MiB] [pages-per-write] [exec|fork]      (defaults 64 and 256)
 *
 * Maps size-MiB of private anonymous memory; page i holds 512 words from a xorshift64 generator
 * seeded by (i, gen[i]). Page i % 64 == 13 is never touched (reads zero). Prints "ready", then
 * idles. Each SIGUSR1 rewrites the next pages-per-write pages (gen[i]++), drops the page after
 * them with MADV_DONTNEED (reads zero from then on) and maps a new 1 MiB area it fills, then
 * prints "wrote N" (N: the SIGUSR1s so far). On SIGUSR2 it checks every page and every area and
 * prints "PASS pages=N" (exit 0) or "FAIL: <reason>" (exit 1). With "exec", the first SIGUSR1 makes it
 * run itself again instead (without "exec"): a new process image, which prints "ready" again. With
 * "fork", it forks once its memory is filled: the child keeps the memory as it was then (the parent's
 * writes copy the pages it shares with the child) and checks it on the parent's SIGUSR2; the parent
 * prints PASS only if the child passed too.
 */
#include <sys/wait.h>
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pagewords.h"

#define AREAS 16
#define AREA (1UL << 20)

static volatile sig_atomic_t check, write_requested;

static void on_usr1(int sig) { (void)sig; write_requested = 1; }
static void on_usr2(int sig) { (void)sig; check = 1; }

static void fill(uint64_t *w, size_t page, uint32_t gen)
{
    fill_words(w, page_seed(page, gen));
}

static int matches(const uint64_t *w, size_t page, uint32_t gen)
{
    return (gen == 0 ? first_nonzero(w) : first_difference(w, page_seed(page, gen))) < 0;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
    size_t per = argc > 2 ? strtoul(argv[2], NULL, 10) : 256;
    size_t pages = mib * 256;
    uint8_t *mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint32_t *gen = calloc(pages, sizeof *gen);
    uint8_t *areas[AREAS];
    if (mem == MAP_FAILED || !gen) { printf("FAIL: no memory\n"); return 2; }
    for (size_t p = 0; p < pages; p++) {
        if (p % 64 == 13) continue;
        gen[p] = 1;
        fill((uint64_t *)(mem + p * PAGE), p, gen[p]);
    }
    signal(SIGUSR1, on_usr1);
    signal(SIGUSR2, on_usr2);
    sigset_t block, none;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGUSR2);
    sigprocmask(SIG_BLOCK, &block, &none);
    pid_t child = 0;
    if (argc > 3 && strcmp(argv[3], "fork") == 0) {
        child = fork();
        if (child < 0) { printf("FAIL: fork\n"); return 2; }
        if (child == 0) {
            while (!check)
                sigsuspend(&none);
            for (size_t p = 0; p < pages; p++)
                if (!matches((const uint64_t *)(mem + p * PAGE), p, gen[p])) {
                    printf("FAIL: the child's page %zu (generation %u) differs\n", p, gen[p]);
                    return 1;
                }
            return 0;
        }
    }
    printf("ready\n");
    fflush(stdout);
    size_t next = 0;
    int writes = 0;
    for (;;) {
        while (!check && !write_requested)
            sigsuspend(&none);
        if (check) break;
        write_requested = 0;
        if (argc > 3 && strcmp(argv[3], "exec") == 0) {
            char *again[] = {argv[0], argv[1], argv[2], NULL};
            sigprocmask(SIG_SETMASK, &none, NULL);
            execv("/proc/self/exe", again);
            printf("FAIL: exec\n");
            return 2;
        }
        for (size_t k = 0; k < per; k++, next = (next + 1) % pages) {
            if (next % 64 == 13) continue;
            gen[next]++;
            fill((uint64_t *)(mem + next * PAGE), next, gen[next]);
        }
        if (next % 64 != 13) {
            madvise(mem + next * PAGE, PAGE, MADV_DONTNEED);
            gen[next] = 0;
        }
        if (writes < AREAS) {
            areas[writes] = mmap(NULL, AREA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (areas[writes] == MAP_FAILED) { printf("FAIL: no area\n"); return 2; }
            memset(areas[writes], 0x40 + writes, AREA);
        }
        writes++;
        printf("wrote %d\n", writes);
        fflush(stdout);
    }
    for (size_t p = 0; p < pages; p++) {
        if (!matches((const uint64_t *)(mem + p * PAGE), p, gen[p])) {
            printf("FAIL: page %zu (generation %u) differs\n", p, gen[p]);
            return 1;
        }
    }
    for (int a = 0; a < writes && a < AREAS; a++) {
        for (size_t i = 0; i < AREA; i++) {
            if (areas[a][i] != (uint8_t)(0x40 + a)) {
                printf("FAIL: area %d byte %zu differs\n", a, i);
                return 1;
            }
        }
    }
    if (child > 0) {
        int status;
        kill(child, SIGUSR2);
        if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            printf("FAIL: the child did not pass\n");
            return 1;
        }
    }
    printf("PASS pages=%zu writes=%d%s\n", pages, writes, child > 0 ? " child" : "");
    return 0;
}
