/*
 * tinystack — a thread whose stack is the top 1 KiB of a page right above an inaccessible one, as a goroutine's
 * small stack has memory that is not its own right below it: a probe that borrowed the memory below a thread's stack
 * pointer found none there. The thread (clone(): it runs raw syscalls only, with no TLS of its own) waits in pause().
 * Prints "ready <its tid>".
 */
#define _GNU_SOURCE
#include <sched.h>
#include <sys/mman.h>
#include "workload.h"

static int waiter(void *arg)
{
    (void)arg;
    for (;;) /* the syscall instruction itself: a call through the PLT binds lazily, on far more than 1 KiB of stack */
        __asm__ volatile("syscall" : : "a"(SYS_pause) : "rcx", "r11", "memory");
    return 0;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    char *pages = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pages == MAP_FAILED || mprotect(pages, 4096, PROT_NONE))
        fail("map the stack");
    int tid = clone(waiter, pages + 4096 + 1024, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD
            | CLONE_SYSVSEM, NULL);
    if (tid < 0)
        fail("clone");
    printf("ready %d\n", tid);
    for (;;)
        pause();
}
