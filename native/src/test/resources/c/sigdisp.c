/*
 * Signal dispositions of every shape a dump must read exactly: a handler with flags and a mask,
 * SIG_IGN, a default disposition that keeps SA_RESTART and a restorer (set back with signal()),
 * and, with "block", SIGURG and SIGWINCH blocked (no signal left to stop a syscall batch with).
 * Prints "ready", then ticks every 10 ms.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void on_usr1(int sig, siginfo_t *si, void *ctx) { (void)sig; (void)si; (void)ctx; }

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaddset(&sa.sa_mask, SIGRTMIN + 3);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGRTMIN + 5, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, (void (*)(int))on_usr1);
    signal(SIGHUP, SIG_DFL); /* default again, with SA_RESTART and glibc's restorer kept */
    if (argc > 1 && strcmp(argv[1], "block") == 0) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGURG);
        sigaddset(&set, SIGWINCH);
        sigprocmask(SIG_BLOCK, &set, NULL);
    }
    printf("ready %d\n", getpid());
    for (unsigned long i = 0;; i++) {
        printf("tick %lu\n", i);
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}
