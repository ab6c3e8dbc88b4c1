/*
 * POSIX message queues of the host's ipc namespace held open: queue A (4 messages of 64 bytes at
 * most, mode 0640) holds three messages of priorities 1, 7 and 3, open read-write and, apart, write-only
 * and non-blocking, and the first also as fd 20 (dup2: not close-on-exec, as every mq_open fd is); queue
 * B, empty, open read-only and non-blocking. On SIGUSR2 checks each fd: the same queue (inode), the same
 * open flags and close-on-exec flag, the queue's attributes, the messages by priority, a send and
 * receive through the files of A, EAGAIN on B; then removes both queues.
 * With "removed": queue C (5 messages of 32 bytes at most, mode 0604, owner 123:456) holds messages of
 * priorities 5, 9, 5 and is removed (mq_unlink) while open, its fd also as fd 21 (dup2). On SIGUSR2
 * checks that the fds hold a queue with those limits, mode and owner, no name, the same fd link, and
 * gives the messages highest priority first, oldest first within one.
 * With "notify": queue N, empty, with the process registered for its notification by signal
 * SIGRTMIN+3 with a value of its own (mq_notify, SIGEV_SIGNAL), and queue M with a registration that
 * sends nothing (SIGEV_NONE). On SIGUSR2 checks that no notification came meanwhile (a dump reads the
 * value by firing it), that both registrations are there (reading a queue's fd shows them), and that a
 * message sent to N brings the signal with SI_MESGQ and the value, once. With "thread": queue T with a
 * registration that runs a function in a new thread (SIGEV_THREAD, glibc's netlink socket and helper
 * thread); on SIGUSR2, the registration is there and a message sent to T runs the function with the
 * value, once. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

struct q { const char *name; int flags; mqd_t fd; ino_t ino; int cloexec; };

static void expect_fd(const struct q *q) {
    struct stat st;
    char why[256];
    if (fstat(q->fd, &st) || st.st_ino != q->ino) {
        snprintf(why, sizeof why, "%s: another queue (inode %lu, was %lu)", q->name, (unsigned long)st.st_ino,
                 (unsigned long)q->ino);
        fail(why);
    }
    int fl = fcntl(q->fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK);
    if (fl != (q->flags & (O_ACCMODE | O_NONBLOCK))) {
        snprintf(why, sizeof why, "%s: flags 0%o, expected 0%o", q->name, fl, q->flags & (O_ACCMODE | O_NONBLOCK));
        fail(why);
    }
    if (!(fcntl(q->fd, F_GETFD) & FD_CLOEXEC) != !q->cloexec) {
        snprintf(why, sizeof why, "fd %d: close-on-exec flag not %d", q->fd, q->cloexec);
        fail(why);
    }
}

static void receive(mqd_t fd, const char *want, unsigned prio) {
    char buf[64], why[256];
    unsigned got;
    ssize_t n = mq_receive(fd, buf, sizeof buf, &got);
    if (n != (ssize_t)strlen(want) || memcmp(buf, want, n) || got != prio) {
        snprintf(why, sizeof why, "received %zd bytes '%.*s' of priority %u, expected '%s' of %u", n,
                 n > 0 ? (int)n : 0, buf, got, want, prio);
        fail(why);
    }
}

static int removed(void) {
    char c[64], link[64], want[128], got[128];
    snprintf(c, sizeof c, "/cryo-mq-c%d", getpid());
    struct mq_attr attr = { .mq_maxmsg = 5, .mq_msgsize = 32 };
    mq_unlink(c);
    mqd_t q = mq_open(c, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
    if (q < 0 || fchown(q, 123, 456) || fchmod(q, 0604)) fail("mq_open, fchown, fchmod");
    if (mq_send(q, "a1", 2, 5) || mq_send(q, "b", 1, 9) || mq_send(q, "a2", 2, 5)) fail("mq_send");
    if (dup2(q, 21) != 21 || mq_unlink(c)) fail("dup2, mq_unlink");
    snprintf(link, sizeof link, "/proc/self/fd/%d", q);
    ssize_t n = readlink(link, want, sizeof want - 1);
    want[n < 0 ? 0 : n] = 0;
    printf("ready\n");
    while (!check) pause();

    struct stat st;
    n = readlink(link, got, sizeof got - 1);
    got[n < 0 ? 0 : n] = 0;
    if (strcmp(got, want)) fail("the fd link changed");
    if (fstat(q, &st) || (st.st_mode & 07777) != 0604 || st.st_uid != 123 || st.st_gid != 456) fail("mode or owner");
    struct mq_attr now;
    if (mq_getattr(q, &now) || now.mq_maxmsg != 5 || now.mq_msgsize != 32 || now.mq_curmsgs != 3) fail("attributes");
    if (mq_open(c, O_RDONLY) != -1 || errno != ENOENT) fail("the removed queue has a name again");
    receive(21, "b", 9);
    receive(q, "a1", 5);
    receive(q, "a2", 5);
    if (mq_send(21, "c", 1, 1)) fail("mq_send after the restore");
    receive(q, "c", 1);
    printf("PASS\n");
    return 0;
}

#define NOTIFY_SIGNAL (SIGRTMIN + 3)
#define NOTIFY_VALUE ((void *)0x7f1234abcd58)
static volatile sig_atomic_t notified, notified_code;
static void *volatile notified_value;

static void on_notify(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    notified++;
    notified_code = si->si_code;
    notified_value = si->si_value.sival_ptr;
}

/* the registration reading the queue's fd shows: "QSIZE:0 NOTIFY:how SIGNO:sig NOTIFY_PID:pid" */
static void expect_registration(mqd_t q, int how, int sig, int pid, const char *which) {
    char st[128], why[256];
    int h = -1, s = -1, p = -1;
    ssize_t n = pread(q, st, sizeof st - 1, 0);
    st[n < 0 ? 0 : n] = 0;
    if (sscanf(st, "QSIZE:%*u NOTIFY:%d SIGNO:%d NOTIFY_PID:%d", &h, &s, &p) != 3 || h != how || s != sig || p != pid) {
        snprintf(why, sizeof why, "queue %s: registration '%s', expected NOTIFY:%d SIGNO:%d NOTIFY_PID:%d", which, st,
                 how, sig, pid);
        fail(why);
    }
}

static int notify(void) {
    char n[64], m[64];
    snprintf(n, sizeof n, "/cryo-mq-n%d", getpid());
    snprintf(m, sizeof m, "/cryo-mq-m%d", getpid());
    struct mq_attr attr = { .mq_maxmsg = 4, .mq_msgsize = 64 };
    mq_unlink(n);
    mq_unlink(m);
    mqd_t qn = mq_open(n, O_RDWR | O_CREAT | O_NONBLOCK, 0600, &attr), qm = mq_open(m, O_RDWR | O_CREAT, 0600, &attr);
    if (qn < 0 || qm < 0) fail("mq_open");
    struct sigaction sa = { .sa_sigaction = on_notify, .sa_flags = SA_SIGINFO };
    sigemptyset(&sa.sa_mask);
    struct sigevent by_signal = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = NOTIFY_SIGNAL };
    by_signal.sigev_value.sival_ptr = NOTIFY_VALUE;
    struct sigevent quiet = { .sigev_notify = SIGEV_NONE };
    if (sigaction(NOTIFY_SIGNAL, &sa, NULL) || mq_notify(qn, &by_signal) || mq_notify(qm, &quiet)) fail("mq_notify");
    printf("ready\n");
    while (!check) pause();

    if (notified) fail("a notification came before any message");
    expect_registration(qn, SIGEV_SIGNAL, NOTIFY_SIGNAL, getpid(), "N");
    expect_registration(qm, SIGEV_NONE, 0, getpid(), "M");
    if (mq_send(qn, "x", 1, 0)) fail("mq_send to N");
    for (int i = 0; i < 5000 && !notified; i++) usleep(1000); /* to itself: on the send's return already */
    if (notified != 1 || notified_code != SI_MESGQ || notified_value != NOTIFY_VALUE) {
        char why[160];
        snprintf(why, sizeof why, "the notification came %d times, the last with si_code %d and value %p", notified,
                 notified_code, notified_value);
        fail(why);
    }
    expect_registration(qn, SIGEV_SIGNAL, 0, 0, "N after the notification");
    if (mq_unlink(n) || mq_unlink(m)) fail("mq_unlink");
    printf("PASS\n");
    return 0;
}

static volatile sig_atomic_t ran;
static void *volatile ran_value;

static void on_thread(union sigval v) {
    ran_value = v.sival_ptr;
    ran++;
}

/* glibc's helper thread, made by mq_notify, has started and sleeps in its receive: a dump taken as it
 * starts would see it before its rseq registration, which the restored thread has made */
static void await_helper_asleep(void) {
    for (int i = 0; i < 5000; i++) {
        DIR *d = opendir("/proc/self/task");
        struct dirent *e;
        int asleep = 0;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.' || atoi(e->d_name) == getpid()) continue;
            char path[300], stat[512];
            snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
            FILE *f = fopen(path, "r");
            if (f && fgets(stat, sizeof stat, f)) {
                char *state = strrchr(stat, ')');
                asleep |= state && state[1] == ' ' && state[2] == 'S';
            }
            if (f) fclose(f);
        }
        if (d) closedir(d);
        if (asleep) return;
        usleep(1000);
    }
    fail("glibc's notification thread did not start within 5 s");
}

static int thread(void) {
    char t[64];
    snprintf(t, sizeof t, "/cryo-mq-t%d", getpid());
    struct mq_attr attr = { .mq_maxmsg = 4, .mq_msgsize = 64 };
    mq_unlink(t);
    mqd_t q = mq_open(t, O_RDWR | O_CREAT | O_NONBLOCK, 0600, &attr);
    if (q < 0) fail("mq_open");
    struct sigevent by_thread = { .sigev_notify = SIGEV_THREAD, .sigev_notify_function = on_thread };
    by_thread.sigev_value.sival_ptr = NOTIFY_VALUE;
    if (mq_notify(q, &by_thread)) fail("mq_notify");
    await_helper_asleep();
    printf("ready\n");
    while (!check) pause();

    if (ran) fail("the notification's function ran before any message");
    expect_registration(q, SIGEV_THREAD, 0, getpid(), "T");
    if (mq_send(q, "x", 1, 0)) fail("mq_send to T");
    for (int i = 0; i < 5000 && !ran; i++) usleep(1000);
    usleep(20000); /* a second run would come as soon */
    if (ran != 1 || ran_value != NOTIFY_VALUE) {
        char why[128];
        snprintf(why, sizeof why, "the notification's function ran %d times, the last with value %p", ran, ran_value);
        fail(why);
    }
    if (mq_unlink(t)) fail("mq_unlink");
    printf("PASS\n");
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc > 1 && !strcmp(argv[1], "removed")) return removed();
    if (argc > 1 && !strcmp(argv[1], "notify")) return notify();
    if (argc > 1 && !strcmp(argv[1], "thread")) return thread();
    char a[64], b[64];
    snprintf(a, sizeof a, "/cryo-mq-a%d", getpid());
    snprintf(b, sizeof b, "/cryo-mq-b%d", getpid());
    struct mq_attr attr = { .mq_maxmsg = 4, .mq_msgsize = 64 };
    struct q qs[] = {
        { a, O_RDWR, -1, 0, 1 },
        { a, O_WRONLY | O_NONBLOCK, -1, 0, 1 },
        { b, O_RDONLY | O_NONBLOCK, -1, 0, 1 },
        { a, O_RDWR, 20, 0, 0 },
    };
    mq_unlink(a);
    mq_unlink(b);
    umask(0);
    for (int i = 0; i < 3; i++) {
        qs[i].fd = mq_open(qs[i].name, qs[i].flags | O_CREAT, 0640, &attr);
        struct stat st;
        if (qs[i].fd < 0 || fstat(qs[i].fd, &st)) fail("mq_open");
        qs[i].ino = st.st_ino;
    }
    if (dup2(qs[0].fd, qs[3].fd) != qs[3].fd) fail("dup2");
    qs[3].ino = qs[0].ino;
    if (mq_send(qs[0].fd, "low", 3, 1) || mq_send(qs[1].fd, "high", 4, 7) || mq_send(qs[0].fd, "mid", 3, 3)) fail("mq_send");
    printf("ready\n");
    while (!check) pause();

    for (int i = 0; i < 4; i++) expect_fd(&qs[i]);
    struct mq_attr now;
    if (mq_getattr(qs[0].fd, &now) || now.mq_maxmsg != 4 || now.mq_msgsize != 64 || now.mq_curmsgs != 3 || now.mq_flags)
        fail("queue A's attributes");
    if (mq_getattr(qs[1].fd, &now) || now.mq_flags != O_NONBLOCK) fail("the non-blocking file of A");
    struct stat st;
    char path[80];
    snprintf(path, sizeof path, "/proc/self/fd/%d", qs[0].fd);
    if (stat(path, &st) || (st.st_mode & 0777) != 0640) fail("queue A's mode");
    receive(qs[0].fd, "high", 7);
    receive(qs[0].fd, "mid", 3);
    receive(qs[0].fd, "low", 1);
    if (mq_send(qs[1].fd, "after", 5, 2)) fail("mq_send after the restore");
    receive(qs[3].fd, "after", 2);
    char buf[64];
    if (mq_receive(qs[2].fd, buf, sizeof buf, NULL) != -1 || errno != EAGAIN) fail("queue B is not empty and non-blocking");
    if (mq_unlink(a) || mq_unlink(b)) fail("mq_unlink");
    printf("PASS\n");
    return 0;
}
