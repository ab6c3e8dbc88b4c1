/*
 * tree — three-level process tree workload (zdtm style).
 *
 * Usage: tree
 *
 *   parent ──pipe── child ── grandchild
 *
 * The child writes a 32-byte record with a sequence number into the pipe
 * every 10 ms; the parent drains the pipe only every 50 ms, so at any time
 * a few records sit unread in the pipe buffer and a dump must carry them.
 * The grandchild loops incrementing a counter with 10 ms sleeps.
 * Both descendants use PR_SET_PDEATHSIG(SIGKILL) so they die with their
 * parent and nothing leaks if the test kills the top process.
 *
 * Prints "ready" once child and grandchild run.  On SIGUSR2 to the parent
 * (the only process that reacts to it) the parent checks:
 *  - the record sequence never had a gap or repeat, and records still
 *    arrive during 200 ms after the signal (pipe content and both ends
 *    survived);
 *  - every record carries the same child / grandchild pids, the child's
 *    getppid() == parent pid, its PR_GET_PDEATHSIG == SIGKILL, and the
 *    child sees the grandchild alive;
 *  - the pipe read end is still O_NONBLOCK;
 *  - neither descendant is dead or a zombie, /proc/<pid>/stat parent links
 *    are parent -> child -> grandchild, and the grandchild still gets
 *    scheduled (voluntary context switches grow over the 200 ms).
 * Prints "PASS seq=<last>" (exit 0) or "FAIL: <reason>" (exit 1), then
 * asks the child to kill and reap the grandchild, and reaps the child.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct rec {
    uint64_t seq;
    int32_t child_pid;
    int32_t child_ppid;
    int32_t gc_pid;
    int32_t gc_alive;
    int32_t pdeathsig;
    int32_t pad;
};   /* 32 bytes < PIPE_BUF, so every write lands whole */

static volatile sig_atomic_t flag;   /* SIGUSR2 in parent, SIGTERM in child */
static void on_flag(int sig) { (void)sig; flag = 1; }

/* Relative sleep that resumes after unrelated signals but returns early
 * once `flag` is set. */
static void sleep_ms(long ms)
{
    struct timespec req = { ms / 1000, (ms % 1000) * 1000000L }, rem;
    while (nanosleep(&req, &rem) == -1 && errno == EINTR && !flag)
        req = rem;
}

static void install(int sig)
{
    struct sigaction sa = { 0 };   /* no SA_RESTART: sleeps must see EINTR */
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_flag;
    sigaction(sig, &sa, NULL);
}

static void grandchild(pid_t child, int ready_fd)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != child)    /* child already gone before prctl */
        _exit(1);
    if (write(ready_fd, "g", 1) != 1)
        _exit(1);
    close(ready_fd);
    volatile unsigned long counter = 0;
    for (;;) {
        counter++;
        sleep_ms(10);
    }
}

static void child(pid_t parent, int wfd)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
    install(SIGTERM);

    int rp[2];
    if (pipe(rp))
        _exit(1);
    pid_t me = getpid();
    pid_t gc = fork();
    if (gc < 0)
        _exit(1);
    if (gc == 0) {
        close(rp[0]);
        close(wfd);
        grandchild(me, rp[1]);
    }
    close(rp[1]);
    char c;
    if (read(rp[0], &c, 1) != 1)   /* grandchild has its death signal set */
        _exit(1);
    close(rp[0]);

    int gc_alive = 1;
    for (uint64_t seq = 0; !flag; seq++) {
        if (gc_alive && waitpid(gc, NULL, WNOHANG) == gc)
            gc_alive = 0;
        int pds = 0;
        prctl(PR_GET_PDEATHSIG, &pds);
        struct rec r = { seq, me, getppid(), gc, gc_alive, pds, 0 };
        ssize_t w;
        while ((w = write(wfd, &r, sizeof r)) < 0 && errno == EINTR && !flag)
            ;
        if (w != sizeof r && !flag)
            _exit(1);
        sleep_ms(10);
    }
    /* Shutdown requested by the parent: leave no zombie behind. */
    kill(gc, SIGKILL);
    waitpid(gc, NULL, 0);
    _exit(0);
}

/* Reads state letter and ppid from /proc/<pid>/stat. */
static int proc_stat(pid_t pid, char *state, pid_t *ppid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');   /* comm may contain spaces and ')' */
    int pp;
    if (!p || sscanf(p + 1, " %c %d", state, &pp) != 2)
        return 0;
    *ppid = pp;
    return 1;
}

static long voluntary_switches(pid_t pid)
{
    char path[64], line[256];
    long v = -1;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1)
            break;
    fclose(f);
    return v;
}

static pid_t child_pid, gc_pid;
static uint64_t next_seq;           /* next sequence number expected */
static char fail_msg[256];          /* first problem seen while running */
static int eof;

static void fail_once(const char *msg)
{
    if (!fail_msg[0])
        snprintf(fail_msg, sizeof fail_msg, "%s", msg);
}

/* Takes every complete record currently in the pipe (fd is non-blocking). */
static void drain(int fd)
{
    static unsigned char buf[4096];
    static size_t have;             /* bytes of an incomplete record kept */
    char msg[200];
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - have);
        if (n == 0) {
            eof = 1;
            fail_once("pipe closed: child is gone");
            return;
        }
        if (n < 0)
            return;                 /* EAGAIN: empty for now */
        have += n;
        size_t off = 0;
        for (; have - off >= sizeof(struct rec); off += sizeof(struct rec)) {
            struct rec r;
            memcpy(&r, buf + off, sizeof r);
            if (r.seq != next_seq) {
                snprintf(msg, sizeof msg, "record seq %llu, expected %llu",
                         (unsigned long long)r.seq,
                         (unsigned long long)next_seq);
                fail_once(msg);
            }
            next_seq = r.seq + 1;
            if (!gc_pid)
                gc_pid = r.gc_pid;
            if (r.child_pid != child_pid || r.gc_pid != gc_pid) {
                snprintf(msg, sizeof msg, "pids changed: child %d gc %d",
                         r.child_pid, r.gc_pid);
                fail_once(msg);
            }
            if (r.child_ppid != getpid()) {
                snprintf(msg, sizeof msg, "child's getppid() is %d, not %d",
                         r.child_ppid, getpid());
                fail_once(msg);
            }
            if (!r.gc_alive)
                fail_once("child reports grandchild dead");
            if (r.pdeathsig != SIGKILL) {
                snprintf(msg, sizeof msg, "child's pdeathsig is %d",
                         r.pdeathsig);
                fail_once(msg);
            }
        }
        memmove(buf, buf + off, have - off);
        have -= off;
    }
}

static int check_proc(pid_t pid, pid_t want_ppid, const char *who,
                      char *why, size_t n)
{
    char st;
    pid_t pp;
    if (!proc_stat(pid, &st, &pp)) {
        snprintf(why, n, "%s %d does not exist", who, pid);
        return 0;
    }
    if (st == 'Z' || st == 'X') {
        snprintf(why, n, "%s %d is dead (state %c)", who, pid, st);
        return 0;
    }
    if (pp != want_ppid) {
        snprintf(why, n, "%s %d has ppid %d, expected %d", who, pid, pp,
                 want_ppid);
        return 0;
    }
    return 1;
}

static void shutdown_children(void)
{
    kill(child_pid, SIGTERM);
    for (int i = 0; i < 200; i++) {          /* up to 2 s */
        if (waitpid(child_pid, NULL, WNOHANG) == child_pid)
            return;
        sleep_ms(10);
    }
    if (gc_pid)
        kill(gc_pid, SIGKILL);
    kill(child_pid, SIGKILL);
    waitpid(child_pid, NULL, 0);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    install(SIGUSR2);

    int p[2];
    if (pipe(p)) {
        printf("FAIL: pipe: %s\n", strerror(errno));
        return 1;
    }
    pid_t me = getpid();
    fflush(stdout);
    child_pid = fork();
    if (child_pid < 0) {
        printf("FAIL: fork: %s\n", strerror(errno));
        return 1;
    }
    if (child_pid == 0) {
        close(p[0]);
        signal(SIGUSR2, SIG_IGN);   /* only the parent reacts to it */
        child(me, p[1]);
    }
    close(p[1]);
    fcntl(p[0], F_SETFL, O_NONBLOCK);

    /* The first record proves the child runs and its grandchild started. */
    while (!next_seq && !eof) {
        sleep_ms(5);
        drain(p[0]);
    }
    if (eof) {
        printf("FAIL: child exited during start-up\n");
        waitpid(child_pid, NULL, 0);
        return 1;
    }
    printf("ready\n");

    while (!flag) {
        sleep_ms(50);
        drain(p[0]);
    }

    /* Check: keep running normally for 200 ms and watch. */
    uint64_t seq_before = next_seq;
    long sw_before = voluntary_switches(gc_pid);
    for (int i = 0; i < 4 && !eof; i++) {
        sleep_ms(50);
        drain(p[0]);
    }
    long sw_after = voluntary_switches(gc_pid);

    char why[256] = "";
    int ok = 1;
    if (fail_msg[0]) {
        snprintf(why, sizeof why, "%s", fail_msg);
        ok = 0;
    }
    if (ok && next_seq <= seq_before) {
        snprintf(why, sizeof why, "no record received in 200 ms (seq %llu)",
                 (unsigned long long)next_seq);
        ok = 0;
    }
    /* Without O_NONBLOCK the drain would block and hide other problems. */
    int fl = fcntl(p[0], F_GETFL);
    if (ok && (fl < 0 || !(fl & O_NONBLOCK))) {
        snprintf(why, sizeof why, "pipe read end lost O_NONBLOCK (0%o)", fl);
        ok = 0;
    }
    if (ok && waitpid(child_pid, NULL, WNOHANG) != 0) {
        snprintf(why, sizeof why, "child %d has exited", child_pid);
        ok = 0;
    }
    if (ok && kill(child_pid, 0)) {
        snprintf(why, sizeof why, "kill(child, 0): %s", strerror(errno));
        ok = 0;
    }
    if (ok && kill(gc_pid, 0)) {
        snprintf(why, sizeof why, "kill(grandchild, 0): %s", strerror(errno));
        ok = 0;
    }
    if (ok)
        ok = check_proc(child_pid, getpid(), "child", why, sizeof why);
    if (ok)
        ok = check_proc(gc_pid, child_pid, "grandchild", why, sizeof why);
    if (ok && (sw_before < 0 || sw_after <= sw_before)) {
        snprintf(why, sizeof why,
                 "grandchild not running (voluntary switches %ld -> %ld)",
                 sw_before, sw_after);
        ok = 0;
    }

    if (ok)
        printf("PASS seq=%llu\n", (unsigned long long)(next_seq - 1));
    else
        printf("FAIL: %s\n", why);
    shutdown_children();
    close(p[0]);
    return ok ? 0 : 1;
}
