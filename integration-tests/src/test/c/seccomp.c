/*
 * seccomp — seccomp filters survive a checkpoint/restore and still bite
 * (zdtm style). Build with -pthread.
 *
 * Usage: seccomp tsync | seccomp inherit | seccomp big | seccomp user | seccomp notif
 *
 *  tsync:   starts two workers, then main installs filter A (getppid fails
 *           with EPERM) with SECCOMP_FILTER_FLAG_TSYNC, so all three threads
 *           share it; worker 1 then stacks filter B (uname fails with EPERM)
 *           on itself only. Chains: main [A], worker 0 [A], worker 1 [A, B].
 *  inherit: sets no_new_privs, installs A with SECCOMP_FILTER_FLAG_LOG in
 *           main, then starts the workers, which inherit it. All share [A].
 *  big:     as inherit, but A is 3004 instructions long (24 KiB) and has no LOG.
 *  user:    as root and without no_new_privs, installs A with TSYNC after the
 *           workers start, then drops to uid 1000 with no capabilities left:
 *           the filter can only be put back while the task is still root.
 *  notif:   installs a filter returning SECCOMP_RET_USER_NOTIF for getppid
 *           and keeps the listener fd: cryo must refuse to dump it. No
 *           workers; prints "ready <listener-fd>" and sleeps.
 *
 * Prints "ready". On SIGUSR2 every thread checks, for itself: getppid()
 * fails with EPERM, uname() fails with EPERM exactly in worker 1 of tsync,
 * getpid()/gettid()/clock_gettime still work, and /proc/self/task/T/status
 * still says "Seccomp: 2" with the same "Seccomp_filters" count as at ready.
 * Then main probes the sharing itself: stacking an allow-all filter with
 * TSYNC from main succeeds when every thread shares main's chain (inherit)
 * and fails naming worker 1 when one thread went its own way (tsync).
 * Prints "PASS" (exit 0) or "FAIL: <reason>" (exit 1).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define NWORKERS 2

static volatile sig_atomic_t check_requested;
static int mode_tsync, mode_inherit, mode_user;
static pid_t parent_pid;
static pid_t tids[NWORKERS + 1];
static int filters_at_ready[NWORKERS + 1];
static volatile int installed_b, check_gen, done_gen[NWORKERS + 1];
static char verdict[NWORKERS + 1][256];

static void die(const char *what)
{
    printf("FAIL: %s: %s\n", what, strerror(errno));
    exit(1);
}

#define PADDING 3000 /* "big": 24 KiB of program, more than cryo's bootstrap data area */
static struct sock_filter big[PADDING + 4];

/* nr -> action, everything else allowed; nr < 0: allow all. padding: no-op compares first. */
static long install_padded(int nr, int action, unsigned flags, int padding)
{
    struct sock_filter *p = big;
    *p++ = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (int i = 0; i < padding; i++)
        *p++ = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 100000 + i, 0, 0);
    *p++ = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1);
    *p++ = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, action);
    *p++ = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog prog = {nr < 0 ? 1 : (unsigned short)(p - big), nr < 0 ? p - 1 : big};
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

static long install(int nr, int action, unsigned flags)
{
    return install_padded(nr, action, flags, 0);
}

static int status_field(pid_t tid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/status", tid);
    FILE *f = fopen(path, "r");
    int v = -1;
    if (!f)
        return -2;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':')
            v = atoi(line + strlen(key) + 1);
    fclose(f);
    return v;
}

/* The checks one thread runs on itself; returns "" or the reason. */
static void check_self(int slot, char *out)
{
    pid_t tid = (pid_t)syscall(SYS_gettid);
    errno = 0;
    long r = syscall(SYS_getppid);
    if (r != -1 || errno != EPERM) {
        snprintf(out, 256, "thread %d: getppid() gave %ld errno %d, expected EPERM", tid, r, errno);
        return;
    }
    struct utsname u;
    errno = 0;
    int ur = uname(&u);
    int uname_blocked = mode_tsync && slot == 2;
    if (uname_blocked ? (ur != -1 || errno != EPERM) : ur != 0) {
        snprintf(out, 256, "thread %d: uname() gave %d errno %d, expected %s", tid, ur, errno,
                 uname_blocked ? "EPERM" : "success");
        return;
    }
    struct timespec ts;
    if (syscall(SYS_getpid) != getpid() || tid != tids[slot] || syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts)) {
        snprintf(out, 256, "thread %d: plain syscalls fail", tid);
        return;
    }
    int mode = status_field(tid, "Seccomp"), n = status_field(tid, "Seccomp_filters");
    if (mode != 2 || n != filters_at_ready[slot]) {
        snprintf(out, 256, "thread %d: Seccomp %d Seccomp_filters %d, expected 2 and %d", tid, mode, n,
                 filters_at_ready[slot]);
        return;
    }
    out[0] = 0;
}

static void *worker(void *arg)
{
    int slot = (int)(long)arg;
    tids[slot] = (pid_t)syscall(SYS_gettid);
    int seen = 0;
    for (;;) {
        if (mode_tsync && slot == 2 && !installed_b && status_field(tids[slot], "Seccomp") == 2) {
            if (install(SYS_uname, SECCOMP_RET_ERRNO | EPERM, 0))
                die("seccomp(B) in worker 1");
            __atomic_store_n(&installed_b, 1, __ATOMIC_RELEASE);
        }
        int gen = __atomic_load_n(&check_gen, __ATOMIC_ACQUIRE);
        if (gen != seen) {
            check_self(slot, verdict[slot]);
            seen = gen;
            __atomic_store_n(&done_gen[slot], gen, __ATOMIC_RELEASE);
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void on_usr2(int sig)
{
    (void)sig;
    check_requested = 1;
}

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *mode = argc > 1 ? argv[1] : "tsync";
    mode_tsync = !strcmp(mode, "tsync");
    int mode_big = !strcmp(mode, "big");
    mode_inherit = !strcmp(mode, "inherit") || mode_big;
    mode_user = !strcmp(mode, "user");
    parent_pid = getppid();
    tids[0] = (pid_t)syscall(SYS_gettid);
    struct sigaction sa = {0};
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);

    if (!strcmp(mode, "notif")) {
        long fd = install(SYS_getppid, SECCOMP_RET_USER_NOTIF, SECCOMP_FILTER_FLAG_NEW_LISTENER);
        if (fd < 0)
            die("seccomp(NEW_LISTENER)");
        printf("ready %ld\n", fd);
        for (;;)
            pause_ms(100);
    }
    pthread_t t[NWORKERS];
    if (mode_inherit) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
            die("PR_SET_NO_NEW_PRIVS");
        if (install_padded(SYS_getppid, SECCOMP_RET_ERRNO | EPERM, mode_big ? 0 : SECCOMP_FILTER_FLAG_LOG,
                           mode_big ? PADDING : 0))
            die("seccomp(A)");
    }
    for (int i = 0; i < NWORKERS; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)(long)(i + 1)))
            die("pthread_create");
    while (!tids[1] || !tids[2])
        pause_ms(1);
    if (mode_tsync || mode_user) {
        long r = install(SYS_getppid, SECCOMP_RET_ERRNO | EPERM, SECCOMP_FILTER_FLAG_TSYNC);
        if (r)
            die("seccomp(A, TSYNC)");
        while (mode_tsync && !__atomic_load_n(&installed_b, __ATOMIC_ACQUIRE))
            pause_ms(1);
    }
    if (mode_user && (setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000)))
        die("setresuid(1000)");
    for (int i = 0; i <= NWORKERS; i++)
        filters_at_ready[i] = status_field(tids[i], "Seccomp_filters");
    printf("ready\n");
    while (!check_requested)
        pause_ms(5);

    check_gen = 1;
    check_self(0, verdict[0]);
    for (int i = 1; i <= NWORKERS; i++) {
        for (int w = 0; w < 5000 && __atomic_load_n(&done_gen[i], __ATOMIC_ACQUIRE) != 1; w++)
            pause_ms(1);
        if (done_gen[i] != 1) {
            printf("FAIL: worker %d does not answer\n", i);
            return 1;
        }
    }
    for (int i = 0; i <= NWORKERS; i++) {
        if (verdict[i][0]) {
            printf("FAIL: %s\n", verdict[i]);
            return 1;
        }
    }
    /* does every thread share main's chain? TSYNC answers: 0, or the tid that does not */
    long r = install(-1, SECCOMP_RET_ALLOW, SECCOMP_FILTER_FLAG_TSYNC);
    /* user: neither CAP_SYS_ADMIN nor no_new_privs, so no new filter at all (EACCES), as before the dump */
    long expected = mode_user ? -1 : mode_tsync ? tids[2] : 0;
    if (r != expected || (mode_user && errno != EACCES)) {
        printf("FAIL: TSYNC from main returned %ld (errno %d), expected %ld\n", r, errno, expected);
        return 1;
    }
    printf("PASS filters=%d,%d,%d\n", filters_at_ready[0], filters_at_ready[1], filters_at_ready[2]);
    return 0;
}
