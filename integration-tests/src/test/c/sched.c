/*
 * sched — scheduling state across a checkpoint/restore (zdtm style). Linux keeps it per thread.
 *
 *   main:     SCHED_BATCH, nice 7, pinned to the last CPU, I/O best-effort level 5, timer slack
 *             70 us, and the process's oom_score_adj 300;
 *   thread 1: SCHED_IDLE, nice 3, I/O idle class, timer slack 200 us;
 *   thread 2: SCHED_FIFO priority 10 with SCHED_RESET_ON_FORK, nice -2 kept for when it leaves
 *             FIFO, pinned to CPU 0, I/O best-effort level 2;
 *   thread 3: SCHED_DEADLINE runtime 2 ms, deadline 50 ms, period 100 ms ("dl=no" when the
 *             kernel refuses it here).
 * The threads sleep in 20 ms steps. Prints "ready dl=yes|no".
 * "sched ghost DIR [MIB]" also holds a deleted file of DIR open, of MIB MiB (2 by default: above cryo's default
 * ghost limit; a dump or migration of it is refused while the state is read).
 *
 * On SIGUSR2 the main thread reads every thread's sched_getattr, affinity, ioprio and nice by
 * tid, its timer slack, and oom_score_adj, and compares them with what was set; then each thread under
 * a fair policy resets its timer slack to its default (PR_SET_TIMERSLACK 0: the slack its creator had
 * when it was cloned, which a real-time creator has none of) and it must be the one it had at start.
 * Prints "PASS" or "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct attr {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
    uint32_t util_min, util_max;
};
#define RESET_ON_FORK 1

struct want {
    pid_t tid;
    struct attr a;
    int cpu;     /* -1: any */
    int ioprio;
    int nice;    /* getpriority */
    long slack;  /* timerslack_ns */
    long dflt;   /* its default slack, read at start; -1: not read (a real-time thread has none) */
    volatile long dflt_now; /* read again on the check; 0 until then */
};

static struct want want[4];
static volatile int started;
static volatile sig_atomic_t check_requested;
static volatile int report_default;
static int ncpu, dl_ok;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void on_usr2(int sig) { (void)sig; check_requested = 1; }

static int setattr(pid_t tid, struct attr *a)
{
    a->size = sizeof *a;
    return syscall(SYS_sched_setattr, tid, a, 0);
}

static void pin(int cpu)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    sched_setaffinity(0, sizeof s, &s);
}

static void fail_setup(const char *what)
{
    printf("FAIL: setup %s: %s\n", what, strerror(errno));
    exit(1);
}

static void *thread(void *arg)
{
    int i = (int)(intptr_t)arg;
    pid_t tid = syscall(SYS_gettid);
    struct want *w = &want[i];
    w->tid = tid;
    w->dflt = i == 1 ? prctl(PR_GET_TIMERSLACK) : -1; /* before its own: its creator's */
    w->cpu = -1;
    memset(&w->a, 0, sizeof w->a);
    w->a.util_max = 1024;
    if (i == 1) {
        w->a.policy = SCHED_IDLE;
        w->a.nice = 3;
        w->nice = 3;
        w->ioprio = 3 << 13;
        prctl(PR_SET_TIMERSLACK, 200000);
        setpriority(PRIO_PROCESS, 0, 3); /* SCHED_IDLE keeps the nice it had: set it before */
    } else if (i == 2) {
        struct attr n = { .policy = SCHED_OTHER, .nice = -2, .util_max = 1024 };
        if (setattr(0, &n))
            fail_setup("nice -2");
        w->a.policy = SCHED_FIFO;
        w->a.priority = 10;
        w->a.flags = RESET_ON_FORK;
        w->a.nice = -2;
        w->nice = -2;
        w->cpu = 0;
        w->ioprio = (2 << 13) | 2;
        pin(0);
    } else {
        w->a.policy = SCHED_DEADLINE;
        w->a.runtime = 2000000;
        w->a.deadline = 50000000;
        w->a.period = 100000000;
        w->ioprio = 0;
        struct attr copy = w->a;
        dl_ok = setattr(0, &copy) == 0;
        if (!dl_ok)
            w->a.policy = SCHED_OTHER, w->a.runtime = w->a.deadline = w->a.period = 0;
    }
    if (i != 3) {
        struct attr copy = w->a;
        if (setattr(0, &copy))
            fail_setup(i == 1 ? "SCHED_IDLE" : "SCHED_FIFO");
    }
    if (w->ioprio && syscall(SYS_ioprio_set, 1, 0, w->ioprio))
        fail_setup("ioprio");
    pthread_mutex_lock(&lock);
    started++;
    pthread_mutex_unlock(&lock);
    struct timespec ts = { 0, 20000000 };
    for (;;) {
        nanosleep(&ts, NULL);
        if (report_default && w->dflt >= 0 && !w->dflt_now) {
            prctl(PR_SET_TIMERSLACK, 0);
            w->dflt_now = prctl(PR_GET_TIMERSLACK);
        }
    }
    return NULL;
}

static char why[256];

static long slack_of(pid_t tid)
{
    char path[64];
    long v = -1;
    snprintf(path, sizeof path, "/proc/%d/timerslack_ns", tid);
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

static int check(struct want *w, int i)
{
    struct attr a = { 0 };
    if (syscall(SYS_sched_getattr, w->tid, &a, sizeof a, 0)) {
        snprintf(why, sizeof why, "thread %d: sched_getattr: %s", i, strerror(errno));
        return 0;
    }
    if (a.policy != w->a.policy || a.priority != w->a.priority || (a.flags & RESET_ON_FORK) != w->a.flags ||
        a.nice != w->a.nice || a.runtime != w->a.runtime || a.deadline != w->a.deadline || a.period != w->a.period) {
        snprintf(why, sizeof why, "thread %d: policy %u prio %u flags %lu nice %d dl %lu/%lu/%lu, expected "
                 "policy %u prio %u flags %lu nice %d dl %lu/%lu/%lu", i, a.policy, a.priority,
                 (unsigned long)a.flags, a.nice, (unsigned long)a.runtime, (unsigned long)a.deadline,
                 (unsigned long)a.period, w->a.policy, w->a.priority, (unsigned long)w->a.flags, w->a.nice,
                 (unsigned long)w->a.runtime, (unsigned long)w->a.deadline, (unsigned long)w->a.period);
        return 0;
    }
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, w->tid);
    if (nice != w->nice) {
        snprintf(why, sizeof why, "thread %d: nice %d, expected %d", i, nice, w->nice);
        return 0;
    }
    cpu_set_t s;
    sched_getaffinity(w->tid, sizeof s, &s);
    int n = CPU_COUNT(&s);
    if (w->cpu >= 0 ? (n != 1 || !CPU_ISSET(w->cpu, &s)) : n != ncpu) {
        snprintf(why, sizeof why, "thread %d: affinity has %d cpus, expected %s %d", i, n,
                 w->cpu >= 0 ? "only cpu" : "all", w->cpu >= 0 ? w->cpu : ncpu);
        return 0;
    }
    long slack = slack_of(w->tid);
    if (slack != w->slack) {
        snprintf(why, sizeof why, "thread %d: timer slack %ld ns, expected %ld", i, slack, w->slack);
        return 0;
    }
    int io = syscall(SYS_ioprio_get, 1, w->tid);
    if (io != w->ioprio && !(w->ioprio == 0 && io == (2 << 13 | 4))) {
        snprintf(why, sizeof why, "thread %d: ioprio 0x%x, expected 0x%x", i, io, w->ioprio);
        return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    FILE *f = fopen("/proc/self/oom_score_adj", "w");
    if (!f || fprintf(f, "300\n") < 0 || fclose(f))
        fail_setup("oom_score_adj");

    pthread_t th[4];
    for (int i = 1; i <= 3; i++)
        pthread_create(&th[i], NULL, thread, (void *)(intptr_t)i);
    while (started < 3)
        usleep(1000);

    struct want *w = &want[0];
    w->tid = getpid();
    w->a.policy = SCHED_BATCH;
    w->a.nice = 7;
    w->a.util_max = 1024;
    w->nice = 7;
    w->cpu = ncpu - 1;
    w->ioprio = (2 << 13) | 5;
    struct attr copy = w->a;
    if (setattr(0, &copy))
        fail_setup("SCHED_BATCH");
    pin(ncpu - 1);
    if (syscall(SYS_ioprio_set, 1, 0, w->ioprio))
        fail_setup("ioprio");
    w->dflt = prctl(PR_GET_TIMERSLACK);
    prctl(PR_SET_TIMERSLACK, 70000);

    /* what the kernel reports now is what must come back (a fair thread's runtime is its slice) */
    for (int i = 0; i < 4; i++) {
        struct attr now = { 0 };
        syscall(SYS_sched_getattr, want[i].tid, &now, sizeof now, 0);
        if (now.policy != want[i].a.policy) {
            printf("FAIL: setup: thread %d has policy %u nice %d\n", i, now.policy, now.nice);
            return 1;
        }
        want[i].a = now;
        errno = 0;
        want[i].nice = getpriority(PRIO_PROCESS, want[i].tid);
        want[i].slack = slack_of(want[i].tid);
        want[i].a.flags &= RESET_ON_FORK;
    }
    if (argc > 2 && strcmp(argv[1], "ghost") == 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/sched-ghost", argv[2]);
        int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
        static char block[1 << 16];
        memset(block, 'g', sizeof block);
        if (fd < 0 || unlink(path))
            fail_setup("ghost file");
        int mib = argc > 3 ? atoi(argv[3]) : 2;
        for (int i = 0; i < mib * 16; i++)
            if (write(fd, block, sizeof block) != sizeof block)
                fail_setup("ghost file");
    }
    printf("ready dl=%s\n", dl_ok ? "yes" : "no");
    while (!check_requested)
        pause();

    int ok = 1;
    for (int i = 0; ok && i < 4; i++)
        ok = check(&want[i], i);
    if (ok) {
        char buf[16] = "";
        f = fopen("/proc/self/oom_score_adj", "r");
        if (!f || !fgets(buf, sizeof buf, f) || atoi(buf) != 300) {
            snprintf(why, sizeof why, "oom_score_adj is %s", buf);
            ok = 0;
        }
        if (f)
            fclose(f);
    }
    if (ok) { /* last: it changes the slack */
        prctl(PR_SET_TIMERSLACK, 0);
        want[0].dflt_now = prctl(PR_GET_TIMERSLACK);
        report_default = 1;
        for (int i = 0; i < 4; i++) {
            for (int n = 0; want[i].dflt >= 0 && !want[i].dflt_now && n < 200; n++)
                usleep(10000);
            if (want[i].dflt >= 0 && want[i].dflt_now != want[i].dflt) {
                snprintf(why, sizeof why, "thread %d: default timer slack %ld ns, expected %ld", i, want[i].dflt_now,
                         want[i].dflt);
                ok = 0;
                break;
            }
        }
    }
    if (!ok) {
        printf("FAIL: %s\n", why);
        return 1;
    }
    printf("PASS dl=%s\n", dl_ok ? "yes" : "no");
    return 0;
}
