/*
 * The parent's side of a program whose child checks its own state after the restore: the child is forked
 * and waited for until it is ready, and on `check` it is sent SIGUSR2 and its exit is the verdict. Needs
 * workload.h.
 */
#ifndef CRYO_CHILDCHECK_H
#define CRYO_CHILDCHECK_H

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

/** Forks {@code child}, which writes a byte to {@code ready} once set up and exits 0 when all holds. */
__attribute__((unused)) static pid_t fork_ready(void (*child)(int ready)) {
    int p[2];
    if (pipe(p)) fail("pipe");
    pid_t c = fork();
    if (c < 0) fail("fork");
    if (c == 0) {
        close(p[0]);
        child(p[1]);
        _exit(0);
    }
    close(p[1]); /* a child that dies before it is ready ends the read, not a wait for ever */
    char b;
    if (read(p[0], &b, 1) != 1) fail("the child did not get ready");
    close(p[0]);
    return c;
}

/** SIGUSR2 to child {@code c}, then PASS when it exits 0, else FAIL with its status; returns the exit code. */
static int child_verdict(pid_t c) {
    kill(c, SIGUSR2);
    int status;
    if (waitpid(c, &status, 0) != c || !WIFEXITED(status) || WEXITSTATUS(status)) {
        printf("FAIL: the child failed (status 0x%x)\n", status);
        return 1;
    }
    printf("PASS\n");
    return 0;
}

#endif
