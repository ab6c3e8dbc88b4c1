/*
 * POSIX message queues of the host's ipc namespace held open: queue A (4 messages of 64 bytes at
 * most, mode 0640) holds three messages of priorities 1, 7 and 3, open read-write and, apart, write-only
 * and non-blocking, and the first also as fd 20 (dup2: not close-on-exec, as every mq_open fd is); queue
 * B, empty, open read-only and non-blocking. On SIGUSR2 checks each fd: the same queue (inode), the same
 * open flags and close-on-exec flag, the queue's attributes, the messages by priority, a send and
 * receive through the files of A, EAGAIN on B; then removes both queues. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
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

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
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
