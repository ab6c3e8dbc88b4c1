/*
 * Signal-driven I/O owners (F_SETOWN_EX) of three kinds: a pipe owned by the process with
 * F_SETSIG SIGRTMIN+2, a socket pair end owned by a worker thread (F_OWNER_TID, plain SIGIO),
 * a pipe owned by the process group (F_SETSIG SIGRTMIN+3), all O_ASYNC. On SIGUSR2 it checks each
 * owner and signal with F_GETOWN_EX/F_GETSIG, then writes into each and waits for its signal: in
 * the right thread, with the right si_fd. zdtm's file_fown (with a thread owner) found it: the
 * restore set the thread owner before the thread existed (ESRCH) and failed after the dump had
 * killed the tree. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "workload.h"

static volatile int got_sig, got_fd = -1, got_tid;
static volatile pid_t worker_tid;

static void on_io(int s, siginfo_t *i, void *c) {
    (void)c;
    got_fd = i->si_fd;
    got_tid = (int)syscall(SYS_gettid);
    got_sig = s;
}

static void *worker(void *a) {
    (void)a;
    /* every signal but SIGIO goes to the main thread: a process-directed SIGUSR2 taken here once left the
       main thread in pause() for good (seen once in a pid namespace under load) */
    sigset_t all;
    sigfillset(&all);
    sigdelset(&all, SIGIO);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    worker_tid = (pid_t)syscall(SYS_gettid);
    for (;;) pause();
    return NULL;
}

/* writes a byte into w and waits for the signal of fd r; 0 when it came as expected */
static int poke(int w, int r, int sig, pid_t in) {
    got_sig = 0;
    got_fd = -1;
    got_tid = 0;
    if (write(w, "x", 1) != 1) fail("write");
    for (int i = 0; i < 10000 && !got_sig; i++) usleep(1000);
    if (got_sig != sig || (sig != SIGIO && got_fd != r) || got_tid != in) {
        printf("FAIL: fd %d: signal %d fd %d in %d, expected %d fd %d in %d\n", r, got_sig, got_fd, got_tid, sig, r, in);
        return 1;
    }
    return 0;
}

static int owner_is(int fd, int type, pid_t pid, int sig) {
    struct f_owner_ex o;
    if (fcntl(fd, F_GETOWN_EX, &o)) fail("F_GETOWN_EX");
    if (o.type != type || o.pid != pid || fcntl(fd, F_GETSIG) != sig || !(fcntl(fd, F_GETFL) & O_ASYNC)) {
        printf("FAIL: fd %d: owner %d/%d signal %d, expected %d/%d signal %d (O_ASYNC %d)\n", fd, o.type, o.pid,
               fcntl(fd, F_GETSIG), type, pid, sig, !!(fcntl(fd, F_GETFL) & O_ASYNC));
        return 1;
    }
    return 0;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    struct sigaction sa = {0};
    sa.sa_sigaction = on_io;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGIO, &sa, NULL);
    sigaction(SIGRTMIN + 2, &sa, NULL);
    sigaction(SIGRTMIN + 3, &sa, NULL);
    pthread_t th;
    if (pthread_create(&th, NULL, worker, NULL)) fail("pthread_create");
    while (!worker_tid) usleep(1000);
    sigset_t io;
    sigemptyset(&io);
    sigaddset(&io, SIGIO);
    pthread_sigmask(SIG_BLOCK, &io, NULL); /* only the worker takes SIGIO */
    int p[2], s[2], g[2];
    if (pipe(p) || socketpair(AF_UNIX, SOCK_STREAM, 0, s) || pipe(g)) fail("pipe/socketpair");
    struct f_owner_ex mine = {F_OWNER_PID, getpid()}, thread = {F_OWNER_TID, worker_tid}, group = {F_OWNER_PGRP, getpgrp()};
    if (fcntl(p[0], F_SETOWN_EX, &mine) || fcntl(p[0], F_SETSIG, SIGRTMIN + 2) || fcntl(p[0], F_SETFL, O_ASYNC)
        || fcntl(s[0], F_SETOWN_EX, &thread) || fcntl(s[0], F_SETFL, O_ASYNC | O_NONBLOCK)
        || fcntl(g[0], F_SETOWN_EX, &group) || fcntl(g[0], F_SETSIG, SIGRTMIN + 3) || fcntl(g[0], F_SETFL, O_ASYNC))
        fail("F_SETOWN_EX/F_SETSIG/O_ASYNC");
    printf("ready\n");
    while (!check) pause();
    if (owner_is(p[0], F_OWNER_PID, getpid(), SIGRTMIN + 2) || owner_is(s[0], F_OWNER_TID, worker_tid, 0)
        || owner_is(g[0], F_OWNER_PGRP, getpgrp(), SIGRTMIN + 3))
        return 1;
    if (poke(p[1], p[0], SIGRTMIN + 2, getpid()) || poke(s[1], s[0], SIGIO, worker_tid)
        || poke(g[1], g[0], SIGRTMIN + 3, getpid()))
        return 1;
    printf("PASS\n");
    return 0;
}
