/*
 * droparm — pages dropped and read again in steps, for the pre-copy's arming of empty ptes.
 *
 * Usage: droparm [early]
 *
 * Maps 512 pages of private anonymous memory and writes every page (byte 1 of
 * page i holds i % 251 + 1). Every 32nd page (i % 32 == 7) is dropped with
 * MADV_DONTNEED: with "early" before "ready", otherwise at the first SIGUSR1.
 * Prints "ready <address>" (decimal), then waits. Each SIGUSR1 runs the next
 * step and prints its name: 1 "dropped" (unless early), 2 "read" (reads page 7,
 * which maps a page again without writing it).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096UL
#define PAGES 512

static volatile sig_atomic_t steps;

static void on_usr1(int sig) { (void)sig; steps++; }

static void drop(char *mem)
{
    for (int i = 7; i < PAGES; i += 32)
        madvise(mem + i * PAGE, PAGE, MADV_DONTNEED);
}

int main(int argc, char **argv)
{
    int early = argc > 1 && strcmp(argv[1], "early") == 0;
    char *mem = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) { perror("mmap"); return 2; }
    for (int i = 0; i < PAGES; i++)
        mem[i * PAGE + 1] = (char)(i % 251 + 1);
    if (early)
        drop(mem);
    sigset_t usr1, old;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, &old); /* taken in sigsuspend only: none is missed */
    signal(SIGUSR1, on_usr1);
    printf("ready %lu\n", (unsigned long)mem);
    fflush(stdout);
    int taken = 0, step = early ? 2 : 1;
    for (;;) {
        while (taken == steps)
            sigsuspend(&old);
        taken++;
        if (step == 1) {
            drop(mem);
            printf("dropped\n");
        } else if (step == 2) {
            volatile char c = mem[7 * PAGE + 1];
            printf("read %d\n", c);
        }
        step++;
        fflush(stdout);
    }
}
