/*
 * Robust mutexes held across a killing dump, in a file mapped shared (LMDB's lock file, tdb with
 * robust mutexes). When a thread exits, the kernel walks its robust list and marks each mutex it
 * still holds OWNER_DIED: in a shared file mapping, a write into the file. Arguments: a directory
 * and `clean` (the pages written back before ready, so that write faults and stamps the file's
 * mtime) or `dirty` (it changes the content alone). The main thread holds a robust mutex and a
 * robust priority-inheriting one (the kernel's PI path), a second thread holds a third. On SIGUSR2
 * checks that each mutex word still names its holder with no OWNER_DIED bit, that a child process
 * finds each busy (not dead), and, once the holders let go, takes each with no EOWNERDEAD.
 */
#define _GNU_SOURCE
#include "workload.h"
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define FUTEX_OWNER_DIED 0x40000000u
#define FUTEX_TID_MASK 0x3fffffffu

struct shared {
    pthread_mutex_t m[3]; /* main's, main's PI, the holder thread's */
};

static struct shared *s;
static pid_t owner[3];
static volatile int let_go, thread_gone;

/* The futex word of a glibc mutex: its first int (__lock). */
static unsigned word(int i) { return *(volatile unsigned *)&s->m[i]; }

static void *hold(void *arg) {
    (void)arg;
    if (pthread_mutex_lock(&s->m[2]) != 0) fail("holder thread: lock");
    owner[2] = syscall(SYS_gettid);
    while (!let_go) usleep(1000);
    if (pthread_mutex_unlock(&s->m[2]) != 0) fail("holder thread: unlock");
    thread_gone = 1;
    return NULL;
}

/* In a child: each mutex busy while held (a dead owner would give EOWNERDEAD), then clean once let go. */
static int child_probe(int phase) {
    for (int i = 0; i < 3; i++) {
        int r = pthread_mutex_trylock(&s->m[i]);
        if (phase == 0 && r != EBUSY) {
            printf("FAIL: child: mutex %d while held: trylock gave %s (errno %d)\n", i,
                   r == EOWNERDEAD ? "EOWNERDEAD" : "not EBUSY", r);
            return 1;
        }
        if (phase == 1) {
            if (r != 0) {
                printf("FAIL: child: mutex %d after its release: trylock gave %d\n", i, r);
                return 1;
            }
            pthread_mutex_unlock(&s->m[i]);
        }
    }
    return 0;
}

static void in_child(int phase) {
    fflush(stdout);
    pid_t c = fork();
    if (c < 0) fail("fork");
    if (c == 0) _exit(child_probe(phase));
    int st;
    if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) exit(1);
}

int main(int argc, char **argv) {
    if (argc < 3 || (strcmp(argv[2], "clean") && strcmp(argv[2], "dirty"))) fail("usage: robustheld DIR clean|dirty");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    char path[4096];
    snprintf(path, sizeof path, "%s/robust.lock", argv[1]);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, 4096) != 0) fail("lock file");
    s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (s == MAP_FAILED) fail("mmap");
    close(fd);
    for (int i = 0; i < 3; i++) {
        pthread_mutexattr_t a;
        pthread_mutexattr_init(&a);
        pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
        pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
        if (i == 1) pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
        if (pthread_mutex_init(&s->m[i], &a) != 0) fail("mutex init");
    }
    for (int i = 0; i < 2; i++)
        if (pthread_mutex_lock(&s->m[i]) != 0) fail("lock");
    owner[0] = owner[1] = getpid();
    pthread_t t;
    if (pthread_create(&t, NULL, hold, NULL) != 0) fail("pthread_create");
    while (!owner[2]) usleep(1000);
    if (!strcmp(argv[2], "clean") && msync(s, 4096, MS_SYNC) != 0) fail("msync");
    printf("ready\n");
    while (!check) pause();

    for (int i = 0; i < 3; i++) {
        unsigned w = word(i);
        if (w & FUTEX_OWNER_DIED) {
            printf("FAIL: mutex %d was marked OWNER_DIED (word 0x%x)\n", i, w);
            return 1;
        }
        if ((pid_t)(w & FUTEX_TID_MASK) != owner[i]) {
            printf("FAIL: mutex %d names %u, not its holder %d (word 0x%x)\n", i, w & FUTEX_TID_MASK, owner[i], w);
            return 1;
        }
    }
    in_child(0);
    let_go = 1;
    if (pthread_join(t, NULL) != 0 || !thread_gone) fail("join");
    for (int i = 1; i >= 0; i--)
        if (pthread_mutex_unlock(&s->m[i]) != 0) fail("unlock");
    in_child(1);
    printf("PASS\n");
    return 0;
}
