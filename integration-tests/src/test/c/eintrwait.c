/*
 * Threads blocked for good in the calls Linux fails with EINTR when their thread is merely stopped
 * and resumed (signal(7): semop, epoll_wait, sigwaitinfo), with no handler involved: a freeze by
 * a dump must not show through. DMTCP's sysv-sem test found it: its client's semop returned EINTR
 * after the restore and it exited. On SIGUSR2 main posts the semaphore, writes the pipe and sends
 * SIGUSR1; each waiter must have returned with what it waited for: PASS, else FAIL naming the call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <unistd.h>

static int semid, ep, pipefd[2];
static volatile sig_atomic_t check;
static char failed[256];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void fail(const char *call, int err) {
    pthread_mutex_lock(&lock);
    snprintf(failed + strlen(failed), sizeof failed - strlen(failed), " %s:%s", call, strerror(err));
    pthread_mutex_unlock(&lock);
}

static void *sem_waiter(void *a) {
    struct sembuf down = {0, -1, 0};
    if (semop(semid, &down, 1) != 0) fail("semop", errno);
    return a;
}

static void *epoll_waiter(void *a) {
    struct epoll_event ev;
    int n = epoll_wait(ep, &ev, 1, -1);
    if (n != 1) fail("epoll_wait", n < 0 ? errno : EIO);
    return a;
}

static void *sig_waiter(void *a) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    siginfo_t si;
    if (sigwaitinfo(&set, &si) != SIGUSR1) fail("sigwaitinfo", errno);
    return a;
}

static void on_usr2(int sig) { (void)sig; check = 1; }

int main(void) {
    sigset_t both, waiting;
    sigemptyset(&both);
    sigaddset(&both, SIGUSR1); // taken by sigwaitinfo only
    sigaddset(&both, SIGUSR2); // main's only: taken by a waiter, it would fail its call and leave main in its wait
    pthread_sigmask(SIG_BLOCK, &both, &waiting);
    sigaddset(&waiting, SIGUSR1);
    signal(SIGUSR2, on_usr2);
    semid = semget(IPC_PRIVATE, 1, 0600);
    ep = epoll_create1(0);
    if (semid < 0 || ep < 0 || pipe(pipefd) != 0) { perror("setup"); return 1; }
    struct epoll_event ev = {.events = EPOLLIN};
    epoll_ctl(ep, EPOLL_CTL_ADD, pipefd[0], &ev);
    pthread_t t[3];
    pthread_create(&t[0], NULL, sem_waiter, NULL);
    pthread_create(&t[1], NULL, epoll_waiter, NULL);
    pthread_create(&t[2], NULL, sig_waiter, NULL);
    usleep(100000); // every waiter blocked
    printf("ready\n");
    fflush(stdout);
    while (!check) sigsuspend(&waiting); // SIGUSR2 let in only while waiting: none comes between test and wait
    struct sembuf up = {0, 1, 0};
    semop(semid, &up, 1);
    if (write(pipefd[1], "x", 1) != 1) fail("write", errno);
    kill(getpid(), SIGUSR1);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    semctl(semid, 0, IPC_RMID);
    if (failed[0]) printf("FAIL:%s\n", failed); else printf("PASS\n");
    fflush(stdout);
    return 0;
}
