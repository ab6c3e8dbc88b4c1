/*
 * Gives advice all the time, the way malloc and garbage collectors do, and now and then advice
 * that changes an area's VmFlags: what a pre-copy's VmFlagsWatch must tell apart
 * (PreCopyFreezeTest).
 * Maps a 4 MiB private anonymous area A and writes it; maps one page B registered with a
 * userfaultfd for missing pages; prints "ready <A> <tid of its second thread>".
 *   SIGUSR2: from then on, every ~1 ms, drops and rewrites a page of A (MADV_DONTNEED, then
 *            MADV_FREE on the next one), and prints "freeing" once.
 *   SIGUSR1: marks the whole of A MADV_DONTFORK (VmFlags "dc", the maps line unchanged), prints "advised".
 *   SIGHUP:  its second thread calls madvise(B, MADV_POPULATE_WRITE), which waits in the kernel
 *            for the missing page to be resolved (/proc/PID/task/TID/syscall shows madvise).
 *   SIGWINCH: resolves that page (UFFDIO_ZEROPAGE): the second thread's madvise returns and it
 *            prints "populated".
 * With "plain" there is no userfaultfd (which a dump refuses) and SIGHUP populates B at once.
 * Never checks itself.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define PAGE 4096UL
#define AREA (4UL << 20)

static volatile sig_atomic_t freeing, advise, populate, resolve;
static char *b;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go = PTHREAD_COND_INITIALIZER;
static int started;

static void on_signal(int sig) {
    if (sig == SIGUSR2) freeing = 1;
    if (sig == SIGUSR1) advise = 1;
    if (sig == SIGHUP) populate = 1;
    if (sig == SIGWINCH) resolve = 1;
}

static void *populator(void *arg) {
    (void)arg;
    pthread_mutex_lock(&lock);
    while (!started) pthread_cond_wait(&go, &lock);
    pthread_mutex_unlock(&lock);
    if (madvise(b, PAGE, MADV_POPULATE_WRITE) != 0) {
        perror("madvise(MADV_POPULATE_WRITE)");
        return NULL;
    }
    printf("populated\n");
    fflush(stdout);
    return NULL;
}

static volatile pid_t second;

static void *second_main(void *arg) {
    second = (pid_t)syscall(SYS_gettid);
    return populator(arg);
}

int main(int argc, char **argv) {
    int with_uffd = !(argc > 1 && strcmp(argv[1], "plain") == 0);
    char *a = mmap(NULL, AREA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    b = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED || b == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    memset(a, 0x5a, AREA);
    int uffd = with_uffd ? (int)syscall(SYS_userfaultfd, O_CLOEXEC) : -1;
    struct uffdio_api api = {.api = UFFD_API};
    struct uffdio_register reg = {.range = {(unsigned long)b, PAGE}, .mode = UFFDIO_REGISTER_MODE_MISSING};
    if (with_uffd && (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) != 0 || ioctl(uffd, UFFDIO_REGISTER, &reg) != 0)) {
        perror("userfaultfd");
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGWINCH, &sa, NULL);
    pthread_t t;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* signals go to the main thread */
    pthread_create(&t, NULL, second_main, NULL);
    sigset_t mine = old, waiting = old;
    sigaddset(&mine, SIGUSR1);
    sigaddset(&mine, SIGUSR2);
    sigaddset(&mine, SIGHUP);
    sigaddset(&mine, SIGWINCH);
    pthread_sigmask(SIG_SETMASK, &mine, NULL); /* delivered only while it waits: none is missed */
    while (!second) usleep(1000);
    printf("ready %p %d\n", (void *)a, (int)second);
    fflush(stdout);
    size_t page = 0;
    int said = 0, advised = 0, resolved = 0;
    for (;;) {
        if (populate && !started) {
            pthread_mutex_lock(&lock);
            started = 1;
            pthread_cond_signal(&go);
            pthread_mutex_unlock(&lock);
        }
        if (resolve && !resolved) {
            struct uffdio_zeropage z = {.range = {(unsigned long)b, PAGE}};
            if (ioctl(uffd, UFFDIO_ZEROPAGE, &z) != 0) {
                perror("UFFDIO_ZEROPAGE");
                return 1;
            }
            resolved = 1;
        }
        if (advise && !advised) {
            if (madvise(a, AREA, MADV_DONTFORK) != 0) {
                perror("madvise(MADV_DONTFORK)");
                return 1;
            }
            advised = 1;
            printf("advised\n");
            fflush(stdout);
        }
        if (freeing) {
            char *p = a + (page % (AREA / PAGE)) * PAGE, *q = a + ((page + 1) % (AREA / PAGE)) * PAGE;
            if (madvise(p, PAGE, MADV_DONTNEED) != 0 || madvise(q, PAGE, MADV_FREE) != 0) {
                perror("madvise");
                return 1;
            }
            p[0] = 1;
            page += 2;
            if (!said) {
                said = 1;
                printf("freeing\n");
                fflush(stdout);
            }
            struct timespec ts = {0, 1000000};
            ppoll(NULL, 0, &ts, &waiting);
        } else {
            sigsuspend(&waiting);
        }
    }
}
