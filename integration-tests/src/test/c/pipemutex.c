/*
 * pipemutex — a task in uninterruptible sleep for another reason than vfork: its child, the writer, writes a byte
 * to a pipe whose mutex this process holds meanwhile, its own write of a page from a userfaultfd area that nobody
 * serves faulting with the mutex held (pipe_write copies under it). The writer sleeps in D in pipe_write until the
 * fault is served, and no ptrace request stops it. Prints "ready <writer's pid>"; on SIGUSR2 closes the
 * userfaultfd (the fault is then served by a zero page), reads both writes from the pipe and checks the writer
 * exited 0. Prints "PASS" or "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "workload.h"

#define PAGE 4096

static int pipefd[2];
static char *area;

static void *write_page(void *arg)
{
    (void)arg;
    return (void *)(long)write(pipefd[1], area, PAGE); /* faults on the area holding the pipe's mutex */
}

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
    int uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    struct uffdio_api api = {.api = UFFD_API};
    if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api))
        fail("userfaultfd");
    area = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct uffdio_register reg = {.range = {(unsigned long)area, PAGE}, .mode = UFFDIO_REGISTER_MODE_MISSING};
    if (area == MAP_FAILED || ioctl(uffd, UFFDIO_REGISTER, &reg))
        fail("register the area");
    pthread_t t;
    if (pthread_create(&t, NULL, write_page, NULL))
        fail("pthread_create");
    struct pollfd pfd = {.fd = uffd, .events = POLLIN};
    if (poll(&pfd, 1, -1) != 1) /* the fault is there: the mutex is held */
        fail("poll the userfaultfd");
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
