/*
 * caps — capabilities and the other per-thread security flags survive a
 * checkpoint/restore (zdtm style). Build with -pthread. Must start as root.
 *
 * Usage: caps ambient | caps root | caps split
 *
 *  ambient: becomes uid/gid 1000 with groups {100, 1000} keeping some caps
 *           (PR_SET_KEEPCAPS): permitted/effective {NET_BIND_SERVICE,
 *           NET_RAW, SYS_NICE}, inheritable {NET_BIND_SERVICE, SYS_NICE},
 *           ambient {NET_BIND_SERVICE}; SYS_ADMIN and MKNOD dropped from the
 *           bounding set; securebits KEEP_CAPS|NOROOT|NO_CAP_AMBIENT_RAISE
 *           (set while CAP_SETPCAP was still there, then SETPCAP dropped);
 *           fsuid 1001; no_new_privs=1, dumpable=0, child subreaper=1.
 *  root:    stays uid 0; SYS_ADMIN, NET_ADMIN and SYS_MODULE dropped from
 *           the bounding set, SYS_MODULE from permitted; inheritable and
 *           ambient {KILL}; securebits NOROOT|NOROOT_LOCKED.
 *
 *  split:   as root, but the second thread switches itself alone to groups
 *           {5, 7}, gids 1001/1002/1003 and uids 1000/1001/1002 with raw
 *           syscalls (glibc's wrappers would change every thread; zdtm's
 *           thread_different_uid_gid), so it also loses its capabilities.
 *
 * In the first two, a second thread then drops one more capability from its own
 * effective set (credentials are per thread). Prints "ready". The security
 * state of every thread (the Uid, Gid, Groups, Cap..., NoNewPrivs lines of
 * /proc/self/task/T/status, securebits, the bounding set by
 * PR_CAPBSET_READ, the ambient set by PR_CAP_AMBIENT_IS_SET) and the
 * process flags (dumpable, subreaper) are recorded at ready. On SIGUSR2 they
 * are read again and compared: "PASS" (exit 0) or "FAIL: <reason>" (exit 1).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SNAP 4096

static volatile sig_atomic_t check_requested;
static volatile int thread_snap_req, thread_snap_done;
static char thread_snap[SNAP];
static pid_t worker_tid;

static void die(const char *what)
{
    printf("FAIL: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void caps_set(unsigned long long eff, unsigned long long prm, unsigned long long inh)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2] = {
        {(unsigned)eff, (unsigned)prm, (unsigned)inh},
        {(unsigned)(eff >> 32), (unsigned)(prm >> 32), (unsigned)(inh >> 32)},
    };
    if (syscall(SYS_capset, &h, d))
        die("capset");
}

static unsigned long long caps_get(int which) /* 0 eff, 1 prm, 2 inh */
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d))
        die("capget");
    unsigned lo = which == 0 ? d[0].effective : which == 1 ? d[0].permitted : d[0].inheritable;
    unsigned hi = which == 0 ? d[1].effective : which == 1 ? d[1].permitted : d[1].inheritable;
    return (unsigned long long)hi << 32 | lo;
}

#define B(c) (1ULL << (c))

/* Everything this thread's kernel credentials say, as text. */
static void snapshot_thread(char *out, pid_t tid)
{
    char path[64], line[512];
    int n = 0;
    snprintf(path, sizeof path, "/proc/self/task/%d/status", tid);
    FILE *f = fopen(path, "r");
    if (!f)
        die("open status");
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "Uid:", 4) || !strncmp(line, "Gid:", 4) || !strncmp(line, "Groups:", 7)
                || !strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs:", 11) || !strncmp(line, "Seccomp", 7))
            n += snprintf(out + n, SNAP - n, "%s", line);
    }
    fclose(f);
    n += snprintf(out + n, SNAP - n, "securebits=%#x fsuid=%d fsgid=%d nnp=%d\n", prctl(PR_GET_SECUREBITS),
                  setfsuid(-1), setfsgid(-1), prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    n += snprintf(out + n, SNAP - n, "bset=");
    for (int c = 0; c <= 40; c++)
        n += snprintf(out + n, SNAP - n, "%d", prctl(PR_CAPBSET_READ, c));
    n += snprintf(out + n, SNAP - n, " amb=");
    for (int c = 0; c <= 40; c++)
        n += snprintf(out + n, SNAP - n, "%d", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0));
    n += snprintf(out + n, SNAP - n, " eff=%llx prm=%llx inh=%llx\n", caps_get(0), caps_get(1), caps_get(2));
}

static void snapshot_process(char *out)
{
    int subreaper = -1;
    prctl(PR_GET_CHILD_SUBREAPER, &subreaper);
    snprintf(out, SNAP, "dumpable=%d subreaper=%d pdeath=%d\n", prctl(PR_GET_DUMPABLE), subreaper, 0);
}

static void *worker(void *arg)
{
    (void)arg;
    worker_tid = (pid_t)syscall(SYS_gettid);
    /* per-thread credentials: only this thread loses this capability */
    if (arg == (void *)2) {
        /* raw syscalls change this thread alone (glibc's wrappers would broadcast them) */
        gid_t groups[] = {5, 7};
        if (syscall(SYS_setgroups, 2, groups) || syscall(SYS_setresgid, 1001, 1002, 1003))
            die("raw setgroups/setresgid in the worker");
        if (syscall(SYS_setresuid, 1000, 1001, 1002))
            die("raw setresuid in the worker");
    } else {
        unsigned long long drop = arg ? B(CAP_NET_RAW) : B(CAP_CHOWN);
        caps_set(caps_get(0) & ~drop, caps_get(1), caps_get(2));
    }
    for (;;) {
        if (thread_snap_req != thread_snap_done) {
            snapshot_thread(thread_snap, worker_tid);
            __atomic_store_n(&thread_snap_done, thread_snap_req, __ATOMIC_RELEASE);
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void take_worker(char *out)
{
    int gen = thread_snap_req + 1;
    __atomic_store_n(&thread_snap_req, gen, __ATOMIC_RELEASE);
    for (int i = 0; i < 5000 && __atomic_load_n(&thread_snap_done, __ATOMIC_ACQUIRE) != gen; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    if (thread_snap_done != gen) {
        printf("FAIL: the worker thread does not answer\n");
        exit(1);
    }
    memcpy(out, thread_snap, SNAP);
}

static void on_usr2(int sig)
{
    (void)sig;
    check_requested = 1;
}

static int compare(const char *what, const char *before, const char *after)
{
    if (strcmp(before, after) == 0)
        return 0;
    printf("FAIL: %s changed\n--- before\n%s--- after\n%s", what, before, after);
    return 1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int ambient = argc > 1 && !strcmp(argv[1], "ambient");
    if (getuid() != 0) {
        printf("FAIL: must start as root\n");
        return 1;
    }
    if (ambient) {
        gid_t groups[] = {100, 1000};
        if (setgroups(2, groups))
            die("setgroups");
        if (prctl(PR_SET_KEEPCAPS, 1))
            die("PR_SET_KEEPCAPS");
        if (setresgid(1000, 1000, 1000))
            die("setresgid");
        if (setresuid(1000, 1000, 1000))
            die("setresuid");
        unsigned long long keep = B(CAP_NET_BIND_SERVICE) | B(CAP_NET_RAW) | B(CAP_SYS_NICE) | B(CAP_SETPCAP)
                | B(CAP_CHOWN) | B(CAP_SETUID);
        caps_set(keep, keep, B(CAP_NET_BIND_SERVICE) | B(CAP_SYS_NICE));
        if (prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN) || prctl(PR_CAPBSET_DROP, CAP_MKNOD))
            die("PR_CAPBSET_DROP");
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0))
            die("PR_CAP_AMBIENT_RAISE");
        if (prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS | SECBIT_NOROOT | SECBIT_NO_CAP_AMBIENT_RAISE))
            die("PR_SET_SECUREBITS");
        if (setfsuid(1001) != 1000 || setfsuid(-1) != 1001)
            die("setfsuid");
        keep &= ~B(CAP_SETPCAP) & ~B(CAP_SETUID);
        caps_set(keep, keep, B(CAP_NET_BIND_SERVICE) | B(CAP_SYS_NICE));
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
            die("PR_SET_NO_NEW_PRIVS");
        if (prctl(PR_SET_DUMPABLE, 0))
            die("PR_SET_DUMPABLE");
        if (prctl(PR_SET_CHILD_SUBREAPER, 1))
            die("PR_SET_CHILD_SUBREAPER");
    } else {
        if (prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN) || prctl(PR_CAPBSET_DROP, CAP_NET_ADMIN)
                || prctl(PR_CAPBSET_DROP, CAP_SYS_MODULE))
            die("PR_CAPBSET_DROP");
        unsigned long long prm = caps_get(1) & ~B(CAP_SYS_MODULE);
        caps_set(prm, prm, B(CAP_KILL));
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 0, 0))
            die("PR_CAP_AMBIENT_RAISE");
        if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED))
            die("PR_SET_SECUREBITS");
    }
    pthread_t t;
    int split = argc > 1 && !strcmp(argv[1], "split");
    if (pthread_create(&t, NULL, worker, split ? (void *)2 : ambient ? (void *)1 : NULL))
        die("pthread_create");

    struct sigaction sa = {0};
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);

    static char main_before[SNAP], worker_before[SNAP], proc_before[SNAP];
    static char main_after[SNAP], worker_after[SNAP], proc_after[SNAP];
    take_worker(worker_before);
    snapshot_thread(main_before, (pid_t)syscall(SYS_gettid));
    snapshot_process(proc_before);
    if (strcmp(main_before, worker_before) == 0) {
        printf("FAIL: the worker's credentials should differ from main's\n");
        return 1;
    }
    printf("ready\n");
    while (!check_requested) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    take_worker(worker_after);
    snapshot_thread(main_after, (pid_t)syscall(SYS_gettid));
    snapshot_process(proc_after);
    int bad = compare("the main thread's credentials", main_before, main_after)
            + compare("the worker thread's credentials", worker_before, worker_after)
            + compare("the process flags", proc_before, proc_after);
    if (bad)
        return 1;
    printf("PASS %s", proc_after);
    return 0;
}
