/*
 * A write lease being broken (zdtm file_lease03's shape): a child's open of the leased file for
 * reading waits for the break, and the holder has had the break signal (F_SETSIG's) without
 * answering it yet at "ready". Usage: leasebreak DIR. On SIGUSR2: the lease is still being broken
 * toward READ (F_GETLEASE), the child still waits, the break signal does not come a second time (the
 * restore starts the break anew, as CRIU's, but the holder had its signal already: zdtm's
 * file_lease04 calls another a ghost), the holder is still the file's signal owner, and once it
 * gives the lease up the child's open goes through.
 * Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

static volatile sig_atomic_t breaks, broke_fd = -1;

static void on_break(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    breaks++;
    broke_fd = si->si_fd;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2) fail("usage: leasebreak DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/leased", argv[1]);
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    if (fd < 0) fail("open");
    struct sigaction sa = {.sa_sigaction = on_break, .sa_flags = SA_SIGINFO | SA_RESTART};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGRTMIN + 1, &sa, NULL)) fail("sigaction");
    if (fcntl(fd, F_SETSIG, SIGRTMIN + 1)) fail("F_SETSIG");
    if (fcntl(fd, F_SETLEASE, F_WRLCK)) fail("F_SETLEASE write");
    pid_t child = fork();
    if (child == 0) {
        int r = open(path, O_RDONLY); /* waits for the break */
        _exit(r >= 0 ? 0 : 1);
    }
    for (int i = 0; i < 10000 && breaks == 0; i++) usleep(1000);
    if (breaks != 1 || broke_fd != fd) fail("no break signal for the leased fd");
    if (fcntl(fd, F_GETLEASE) != F_RDLCK) fail("the lease is not being broken toward READ");
    printf("ready\n");
    while (!check) pause();

    if (fcntl(fd, F_GETLEASE) != F_RDLCK) fail("after the restore the lease is not being broken toward READ");
    if (waitpid(child, NULL, WNOHANG) != 0) fail("the child's open no longer waits for the break");
    /* a signal the restore had sent would be pending, and delivered before the program went on */
    if (breaks != 1) {
        printf("FAIL: the break was announced again: %d signals, the last for fd %d\n", (int)breaks, (int)broke_fd);
        return 1;
    }
    if (fcntl(fd, F_GETOWN) != getpid()) fail("the holder is no longer the leased file's signal owner");
    if (fcntl(fd, F_SETLEASE, F_UNLCK)) fail("giving the lease up");
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail("the child's open did not go through once the lease was given up");
    printf("PASS\n");
    return 0;
}
