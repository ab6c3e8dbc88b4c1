/*
 * A pidfd of one of the program's own threads (pidfd_open(tid, PIDFD_THREAD), Linux 6.9+), also
 * dup'ed to a second fd. On SIGUSR2 the main thread signals the thread through the pidfd
 * (pidfd_send_signal with PIDFD_SIGNAL_THREAD): the thread's handler must run in that very
 * thread; the dup'ed fd must name the same thread in its fdinfo. zdtm's pidfd_of_thread found it:
 * the restore opened the pidfd before the thread existed and failed after the dump had killed
 * the tree. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "workload.h"
#include "pidfdinfo.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
#define SIGNAL_THREAD 1

static volatile pid_t worker_tid, got_in;

static void on_usr1(int s) { (void)s; got_in = (pid_t)syscall(SYS_gettid); }

static void *worker(void *a) {
    (void)a;
    worker_tid = (pid_t)syscall(SYS_gettid);
    for (;;) pause();
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    signal(SIGUSR1, on_usr1);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_t th;
    if (pthread_create(&th, NULL, worker, NULL)) fail("pthread_create");
    pthread_sigmask(SIG_BLOCK, &usr1, NULL); /* only the worker takes SIGUSR1 */
    while (!worker_tid) usleep(1000);
    int fd = (int)syscall(SYS_pidfd_open, worker_tid, PIDFD_THREAD);
    if (fd < 0) fail("pidfd_open(PIDFD_THREAD)");
    int copy = dup(fd);
    if (copy < 0) fail("dup");
    printf("ready\n");
    while (!check) pause();
    if (fdinfo_pid(fd) != worker_tid || fdinfo_pid(copy) != worker_tid) {
        printf("FAIL: the pidfds name %d and %d, not thread %d\n", fdinfo_pid(fd), fdinfo_pid(copy), worker_tid);
        return 1;
    }
    if ((fcntl(fd, F_GETFL) & PIDFD_THREAD) == 0) { printf("FAIL: PIDFD_THREAD lost\n"); return 1; }
    if (syscall(SYS_pidfd_send_signal, copy, SIGUSR1, NULL, SIGNAL_THREAD)) fail("pidfd_send_signal");
    for (int i = 0; i < 5000 && !got_in; i++) usleep(1000);
    if (got_in != worker_tid) { printf("FAIL: SIGUSR1 handled in %d, not in thread %d\n", got_in, worker_tid); return 1; }
    printf("PASS\n");
    return 0;
}
