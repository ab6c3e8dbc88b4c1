/*
 * A child process that shares one of its parent's tables: "files" (clone with CLONE_FILES, as
 * zdtm's fdt_shared does) or "fs" (CLONE_FS: cwd, root and umask). cryo refuses such a tree: restored, each process would get its own copy.
 * Prints "ready <child pid>" and sleeps.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char stack[1 << 16] __attribute__((aligned(16)));

static int child(void *arg) {
    (void)arg;
    for (;;) pause();
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    int flag = !strcmp(argv[1], "files") ? CLONE_FILES : CLONE_FS;
    setvbuf(stdout, NULL, _IOLBF, 0);
    pid_t c = clone(child, stack + sizeof stack, flag | SIGCHLD, NULL);
    if (c < 0) {
        printf("FAIL: clone\n");
        return 1;
    }
    printf("ready %d\n", c);
    for (;;) pause();
}
