/*
 * File leases (zdtm file_lease00): a read lease on a file open for reading, a write lease on one
 * open for writing, the second with F_SETSIG so its break is announced by SIGRTMIN+1 instead of
 * SIGIO. Usage: leases DIR. On SIGUSR2: F_GETLEASE gives each type back, and the leases are the
 * kernel's, not just reported: a child opening the read-leased file for writing without blocking
 * is told EWOULDBLOCK and the break signal reaches us with the leased fd. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

static volatile sig_atomic_t broke_fd = -1;

static void on_break(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    broke_fd = si->si_fd;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2) fail("usage: leases DIR");
    char rd_path[4096], wr_path[4096];
    snprintf(rd_path, sizeof rd_path, "%s/leased.rd", argv[1]);
    snprintf(wr_path, sizeof wr_path, "%s/leased.wr", argv[1]);
    int rd = open(rd_path, O_RDONLY | O_CREAT, 0644), wr = open(wr_path, O_WRONLY | O_CREAT, 0644);
    if (rd < 0 || wr < 0) fail("open");
    struct sigaction sa = {.sa_sigaction = on_break, .sa_flags = SA_SIGINFO | SA_RESTART};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGRTMIN + 1, &sa, NULL)) fail("sigaction");
    if (fcntl(rd, F_SETSIG, SIGRTMIN + 1)) fail("F_SETSIG");
    if (fcntl(rd, F_SETLEASE, F_RDLCK)) fail("F_SETLEASE read");
    if (fcntl(wr, F_SETLEASE, F_WRLCK)) fail("F_SETLEASE write");
    printf("ready\n");
    while (!check) pause();

    if (fcntl(rd, F_GETLEASE) != F_RDLCK) fail("the read lease is gone");
    if (fcntl(wr, F_GETLEASE) != F_WRLCK) fail("the write lease is gone");
    pid_t child = fork();
    if (child == 0) {
        int fd = open(rd_path, O_WRONLY | O_NONBLOCK);
        _exit(fd < 0 && errno == EWOULDBLOCK ? 0 : 1);
    }
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail("an open for writing did not meet the read lease");
    for (int i = 0; i < 500 && broke_fd < 0; i++) usleep(1000);
    if (broke_fd != rd) fail("no lease break signal for the read-leased fd");
    printf("PASS\n");
    return 0;
}
