/*
 * pipemutex — a task in uninterruptible sleep for another reason than vfork: its child, the writer, writes a byte
 * to a pipe whose mutex this process holds meanwhile, its own write of a page from a userfaultfd area that nobody
 * serves faulting with the mutex held (pipe_write copies under it). The writer sleeps in D in pipe_write until the
 * fault is served, and no ptrace request stops it. Prints "ready <writer's pid>"; on SIGUSR2 closes the
 * userfaultfd (the fault is then served by a zero page), reads both writes from the pipe and checks the writer
 * exited 0. Prints "PASS" or "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <sys/wait.h>
#include "unservedfault.h"

#define PAGE UNSERVED_PAGE

static int pipefd[2];

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int go[2];
    if (pipe(pipefd) || pipe(go))
        fail("pipe");
    pid_t writer = fork();
    if (writer < 0)
        fail("fork");
    if (writer == 0) {
        char c;
        close(go[1]);
        if (read(go[0], &c, 1) != 1)
            _exit(2);
        _exit(write(pipefd[1], "x", 1) == 1 ? 0 : 3); /* waits for the mutex, in D */
    }
    close(go[0]);
    pthread_t t;
    int uffd = fault_unserved(pipefd[1], &t); /* this process's write holds the pipe's mutex */
    if (write(go[1], "g", 1) != 1)
        fail("let the writer go");
    printf("ready %d\n", writer);
    while (!check)
        pause();
    close(uffd); /* the fault is retried without it: a zero page */
    void *wrote;
    pthread_join(t, &wrote);
    if ((long)wrote != PAGE)
        fail("this process's write");
    int status;
    if (waitpid(writer, &status, 0) != writer || !WIFEXITED(status) || WEXITSTATUS(status)) {
        printf("FAIL: the writer (status 0x%x)\n", status);
        return 1;
    }
    char buf[PAGE + 2];
    ssize_t n = 0, r;
    close(pipefd[1]);
    while ((r = read(pipefd[0], buf + n, sizeof buf - n)) > 0)
        n += r;
    if (n != PAGE + 1)
        fail("the pipe does not hold both writes");
    printf("PASS\n");
    return 0;
}
