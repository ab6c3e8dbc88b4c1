/*
 * A thread of this process writes a page to fd `out` from a userfaultfd area nobody serves, and the caller waits
 * until the write has faulted: a pipe's write copies under the pipe's mutex, which it then holds until the fault is
 * served (the userfaultfd closed, which serves it with a zero page) or the process dies. Returns the userfaultfd.
 * For the tests of a task in uninterruptible sleep (pipemutex.c, exitmutex.c).
 */
#ifndef CRYO_UNSERVEDFAULT_H
#define CRYO_UNSERVEDFAULT_H

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "workload.h"

#define UNSERVED_PAGE 4096

static int unserved_out;
static char *unserved_area;

static void *unserved_write(void *arg)
{
    (void)arg;
    return (void *)(long)write(unserved_out, unserved_area, UNSERVED_PAGE);
}

/** Starts the faulting write to {@code out} in thread {@code t}; returns once it has faulted. */
__attribute__((unused)) static int fault_unserved(int out, pthread_t *t)
{
    unserved_out = out;
    int uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    struct uffdio_api api = {.api = UFFD_API};
    if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api))
        fail("userfaultfd");
    unserved_area = mmap(NULL, UNSERVED_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct uffdio_register reg = {.range = {(unsigned long)unserved_area, UNSERVED_PAGE},
                                  .mode = UFFDIO_REGISTER_MODE_MISSING};
    if (unserved_area == MAP_FAILED || ioctl(uffd, UFFDIO_REGISTER, &reg))
        fail("register the area");
    if (pthread_create(t, NULL, unserved_write, NULL))
        fail("pthread_create");
    struct pollfd pfd = {.fd = uffd, .events = POLLIN};
    if (poll(&pfd, 1, -1) != 1) /* the fault is there: the mutex is held */
        fail("poll the userfaultfd");
    return uffd;
}

#endif
