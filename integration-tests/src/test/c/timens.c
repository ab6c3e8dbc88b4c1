/*
 * Time namespaces (CLONE_NEWTIME) with their clock offsets, as a container runtime or `unshare --time`
 * leaves them. The root makes one for its children without entering it (monotonic +1 day, boottime
 * +1 hour) and forks two children there; the first of them makes its own (monotonic +2 days, boottime
 * +2 hours), enters it (setns) and forks a grandchild, which is born in it. On SIGUSR2 every task
 * checks the offsets of its time_for_children, that its clocks read the host's plus its namespace's
 * offsets (the host's as the root reads them: its own is the host's), and which tasks share a namespace;
 * prints PASS or FAIL: reason.
 * With "late" the root forks one child before it unshares (cryo refuses that tree).
 * With "hostfd" the children keep an fd of the host's time namespace, opened by the root before it
 * unshares and closed by it once they are born (zdtm timens_nested): each checks it is still a
 * namespace file of the root's own.
 * With "noproc" the first child also takes a mount namespace of its own and unmounts /proc there before
 * it forks the grandchild, as zdtm's clean_mntns leaves its container (the restore opened the task's
 * time_for_children through /proc of its view, and lost the tree after the killing dump); it mounts
 * /proc again on SIGUSR2, before either checks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x80
#endif
#define DAY 86400L
#define HOUR 3600L

static int report[2]; /* children write their failures here */
static int hostns = -1; /* hostfd: an fd of the host's time namespace */
static pid_t root;

static void offsets(long mono, long boot) {
    char b[64];
    int fd = open("/proc/self/timens_offsets", O_WRONLY);
    int n = snprintf(b, sizeof b, "1 %ld 0\n7 %ld 0\n", mono, boot);
    if (fd < 0 || write(fd, b, n) != n) fail("write timens_offsets");
    close(fd);
}

static void link_of(const char *pid, const char *ns, char *out) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/ns/%s", pid, ns);
    ssize_t n = readlink(path, out, 63);
    out[n > 0 ? n : 0] = 0;
}

/* the host's clocks, read by the root (in the host's time namespace) right before it signals a child */
static volatile long *host;

/* whether this task's clocks read the host's plus (mono, boot) seconds; the slack is the time between
 * the root's reading and this one, never near the offsets (a day or more) */
static const char *clocks(long mono, long boot) {
    static char why[160];
    struct timespec m, b;
    clock_gettime(CLOCK_MONOTONIC, &m);
    clock_gettime(CLOCK_BOOTTIME, &b);
    long dm = m.tv_sec - mono - host[0], db = b.tv_sec - boot - host[1];
    if (dm < -1 || dm > 30 || db < -1 || db > 30) {
        snprintf(why, sizeof why, "monotonic %ld s and boottime %ld s are the host's (%ld, %ld) plus %ld and %ld, not %ld and %ld",
                 (long)m.tv_sec, (long)b.tv_sec, host[0], host[1], m.tv_sec - host[0], b.tv_sec - host[1], mono, boot);
        return why;
    }
    return NULL;
}

static void read_host(void) {
    struct timespec m, b;
    clock_gettime(CLOCK_MONOTONIC, &m);
    clock_gettime(CLOCK_BOOTTIME, &b);
    host[0] = m.tv_sec;
    host[1] = b.tv_sec;
}

/* hostfd: whether the fd still names the root's own time namespace (the host's) */
static const char *host_fd(void) {
    char path[64];
    struct stat mine, want;
    snprintf(path, sizeof path, "/proc/%d/ns/time", root);
    if (hostns < 0) return NULL;
    if (fstat(hostns, &mine) || stat(path, &want)) return "its fd of the host's time namespace is gone";
    if (mine.st_ino != want.st_ino || mine.st_dev != want.st_dev) return "its fd of the host's time namespace names another";
    return NULL;
}

/* what a task expects: the offsets of its time_for_children and of its own namespace */
static void verify(const char *who, long kids_mono, long kids_boot, long own_mono, long own_boot) {
    char b[256] = {0}, why[320] = {0};
    int fd = open("/proc/self/timens_offsets", O_RDONLY);
    if (fd < 0 || read(fd, b, sizeof b - 1) < 0) fail("read timens_offsets");
    close(fd);
    long m = -1, mn = -1, bo = -1, bn = -1;
    if (sscanf(b, "monotonic %ld %ld boottime %ld %ld", &m, &mn, &bo, &bn) != 4 || m != kids_mono || bo != kids_boot
            || mn != 0 || bn != 0)
        snprintf(why, sizeof why, "%s: its children's offsets read '%s', wanted monotonic %ld boottime %ld", who, b,
                 kids_mono, kids_boot);
    const char *c = why[0] ? NULL : clocks(own_mono, own_boot);
    if (!c && !why[0]) c = host_fd();
    if (c) snprintf(why, sizeof why, "%s: %s", who, c);
    if (why[0]) {
        strcat(why, "\n");
        write(report[1], why, strlen(why));
    }
}

/* Waits for SIGUSR2; gives up after 300 s (a tree the test killed or cryo refused leaves none behind). */
static void child_wait(void) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    struct timespec bound = { 300, 0 };
    while (sigtimedwait(&s, NULL, &bound) < 0)
        if (errno != EINTR) _exit(1);
}

int main(int argc, char **argv) {
    int late = argc > 1 && !strcmp(argv[1], "late");
    int noproc = argc > 1 && !strcmp(argv[1], "noproc");
    root = getpid();
    if (argc > 1 && !strcmp(argv[1], "hostfd") && (hostns = open("/proc/self/ns/time", O_RDONLY)) < 0) fail("open ns/time");
    setvbuf(stdout, NULL, _IOLBF, 0);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    sigprocmask(SIG_BLOCK, &s, NULL); /* children take it with sigwait; the root with sigsuspend */
    signal(SIGUSR2, on_usr2);
    pipe(report);
    host = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t early = 0;
    if (late && (early = fork()) == 0) {
        sleep(300); /* bounded: the test kills it, or it ends by itself */
        _exit(0);
    }
    if (unshare(CLONE_NEWTIME)) fail("unshare(CLONE_NEWTIME)");
    offsets(DAY, HOUR);
    int ready[2];
    pipe(ready);
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            if (i == 0) {
                if (unshare(CLONE_NEWTIME)) fail("child unshare(CLONE_NEWTIME)");
                offsets(2 * DAY, 2 * HOUR);
                int fd = open("/proc/self/ns/time_for_children", O_RDONLY);
                if (fd < 0 || setns(fd, CLONE_NEWTIME)) fail("setns(time_for_children)");
                close(fd);
                if (noproc && (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)
                        || umount2("/proc", MNT_DETACH))) fail("a mount namespace without /proc");
                pid_t g = fork();
                if (g == 0) {
                    write(ready[1], "g", 1);
                    child_wait();
                    verify("grandchild", 2 * DAY, 2 * HOUR, 2 * DAY, 2 * HOUR);
                    char mine[64], parent[64], pp[16];
                    link_of("self", "time", mine);
                    snprintf(pp, sizeof pp, "%d", getppid());
                    link_of(pp, "time", parent);
                    if (strcmp(mine, parent)) write(report[1], "grandchild: not in its parent's time namespace\n", 47);
                    _exit(0);
                }
                write(ready[1], "c", 1);
                child_wait();
                if (noproc && mount("proc", "/proc", "proc", 0, NULL)) fail("mount /proc again");
                verify("first child", 2 * DAY, 2 * HOUR, 2 * DAY, 2 * HOUR);
                /* the grandchild compares with the host as this task sees it: its own clocks minus its offsets */
                {
                    struct timespec m, b;
                    clock_gettime(CLOCK_MONOTONIC, &m);
                    clock_gettime(CLOCK_BOOTTIME, &b);
                    host[0] = m.tv_sec - 2 * DAY;
                    host[1] = b.tv_sec - 2 * HOUR;
                }
                kill(g, SIGUSR2);
                waitpid(g, NULL, 0);
                _exit(0);
            }
            write(ready[1], "d", 1);
            child_wait();
            verify("second child", DAY, HOUR, DAY, HOUR);
            char mine[64], parent[64], pp[16];
            link_of("self", "time", mine);
            snprintf(pp, sizeof pp, "%d", getppid());
            link_of(pp, "time_for_children", parent);
            if (strcmp(mine, parent)) write(report[1], "second child: not in its parent's time_for_children\n", 52);
            _exit(0);
        }
    }
    char c;
    for (int i = 0; i < 3; i++) read(ready[0], &c, 1);
    if (hostns >= 0) { /* only the children hold it now, from namespaces of their own (zdtm timens_nested) */
        close(hostns);
        hostns = -1;
    }
    printf("ready\n");
    sigset_t none;
    sigemptyset(&none);
    while (!check) sigsuspend(&none);
    char mine[64], kids_ns[64];
    link_of("self", "time", mine);
    link_of("self", "time_for_children", kids_ns);
    if (!strcmp(mine, kids_ns)) write(report[1], "root: it is in its children's time namespace\n", 45);
    read_host();
    verify("root", DAY, HOUR, 0, 0);
    for (int i = 0; i < 2; i++) {
        read_host();
        kill(kids[i], SIGUSR2);
        waitpid(kids[i], NULL, 0);
    }
    if (early) {
        kill(early, SIGKILL);
        waitpid(early, NULL, 0);
    }
    close(report[1]);
    char why[1024] = {0};
    int n = read(report[0], why, sizeof why - 1);
    if (n > 0) {
        printf("FAIL: %s", why);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
