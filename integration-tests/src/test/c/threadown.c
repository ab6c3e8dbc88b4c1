/*
 * A thread that unshared something for itself alone, as Samba's worker threads take a cwd each
 * (unshare(CLONE_FS), chdir) and Go programs a namespace on a locked OS thread. "cwd": the thread
 * unshares its fs, enters /usr and sets umask 027; "root": it also chroots into /usr. On SIGUSR2 the
 * thread checks it still has them, then goes back to / (and umask 0) to show its fs is its own: the
 * main thread must keep its cwd (the test's directory) and umask 022. "uts": the thread unshares a uts
 * namespace named cryo-thread / cryo-domain, then renames it after the check: the main thread's names
 * must stay. "net PATH": the thread joins the net namespace bound at PATH (ip netns add's) and must be in
 * it after the restore, the main thread not. "files": the thread unshares its fd table, closes its copy of
 * /dev/null (fd N), dups the pipe's write end to fd 9 with close-on-exec and sets close-on-exec on the read end;
 * after the restore it checks that, writes through fd 9 (the main thread reads it from the pipe) and closes the
 * write end, which the main thread must still hold, as /dev/null, without fd 9. "alone": the thread unshares its
 * fd table, then opens files its process never holds, moved to fds 20-24 (a worker's own files): a file it wrote
 * "hello" to, at offset 2, with close-on-exec; a pipe holding "abc" unread (both ends); an eventfd counting 5; a
 * unix socketpair with "ping" unread. After the restore the thread reads them back, and the main thread must hold
 * none of those numbers. "netnew": the thread makes a net namespace of its own, bound nowhere (Go's netns.New() on a
 * locked OS thread), and brings its lo up; after the restore it must be in a net namespace other than its process's,
 * with lo up (a UDP datagram to itself on 127.0.0.1 comes back), and the main thread in the one it was in.
 * "cgroupns": the thread makes a cgroup namespace of its own; after the restore it must be in one other than its
 * process's, at its root in every hierarchy, and the main thread in the one it was in. "ipcns": the thread makes
 * an ipc namespace of its own, empty; after the restore it must be in one other than its process's, where a
 * message queue it makes is not seen from the main thread's. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include "workload.h"
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <stdint.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/msg.h>
#include <time.h>

static const char *mode;
static volatile int set_up, verdict_ready;
static const char *thread_failure;
static struct stat usr;

static int same_dir(const char *path, const struct stat *want) {
    struct stat st;
    return stat(path, &st) == 0 && st.st_dev == want->st_dev && st.st_ino == want->st_ino;
}

static const char *net_path;
static int pipe_fds[2], null_fd;

static int cloexec(int fd) {
    int f = fcntl(fd, F_GETFD);
    return f < 0 ? -1 : (f & FD_CLOEXEC) != 0;
}

/* "files": the fd table the thread made its own. */
static void *alone_files(void *arg) {
    (void)arg;
    if (unshare(CLONE_FILES) != 0 || close(null_fd) != 0 || dup2(pipe_fds[1], 9) != 9
            || fcntl(9, F_SETFD, FD_CLOEXEC) != 0 || fcntl(pipe_fds[0], F_SETFD, FD_CLOEXEC) != 0)
        fail("unshare(CLONE_FILES) and its table");
    set_up = 1;
    struct timespec nap = {0, 10000000};
    while (!check) nanosleep(&nap, NULL);
    if (cloexec(null_fd) != -1) thread_failure = "the thread holds /dev/null again";
    else if (cloexec(9) != 1) thread_failure = "the thread's fd 9 is not there with close-on-exec";
    else if (cloexec(pipe_fds[0]) != 1) thread_failure = "the thread's read end lost its close-on-exec";
    else if (write(9, "x", 1) != 1) thread_failure = "write through the thread's fd 9";
    else if (close(pipe_fds[1]) != 0) thread_failure = "close of the thread's write end";
    verdict_ready = 1;
    return NULL;
}

/* "alone": files only the thread's own table holds, at fds 20-25. */
static void *alone_opened(void *arg) {
    (void)arg;
    int p[2], sp[2], f, e;
    if (unshare(CLONE_FILES) != 0) fail("unshare(CLONE_FILES)");
    if ((f = open("alone.txt", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 || write(f, "hello", 5) != 5
            || lseek(f, 2, SEEK_SET) != 2 || dup3(f, 20, O_CLOEXEC) != 20 || close(f) != 0)
        fail("the thread's own file");
    if (pipe(p) != 0 || write(p[1], "abc", 3) != 3 || dup2(p[0], 21) != 21 || dup2(p[1], 22) != 22
            || close(p[0]) != 0 || close(p[1]) != 0)
        fail("the thread's own pipe");
    if ((e = eventfd(5, 0)) < 0 || dup2(e, 23) != 23 || close(e) != 0) fail("the thread's own eventfd");
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) != 0 || write(sp[0], "ping", 4) != 4 || dup2(sp[0], 24) != 24
            || dup2(sp[1], 25) != 25 || close(sp[0]) != 0 || close(sp[1]) != 0)
        fail("the thread's own socketpair");
    set_up = 1;
    struct timespec nap = {0, 10000000};
    while (!check) nanosleep(&nap, NULL);
    char buf[8] = {0};
    uint64_t n = 0;
    if (cloexec(20) != 1) thread_failure = "the thread's file is not at fd 20 with close-on-exec";
    else if (read(20, buf, 7) != 3 || memcmp(buf, "llo", 3) != 0) thread_failure = "the thread's file does not read llo from offset 2";
    else if (cloexec(21) != 0 || cloexec(22) != 0) thread_failure = "the thread's pipe is not at fds 21, 22 without close-on-exec";
    else if (write(22, "d", 1) != 1 || read(21, buf, 7) != 4 || memcmp(buf, "abcd", 4) != 0)
        thread_failure = "the thread's pipe does not give back abc unread, then its own write";
    else if (read(23, &n, sizeof n) != sizeof n || n != 5) thread_failure = "the thread's eventfd does not count 5";
    else if (read(25, buf, 7) != 4 || memcmp(buf, "ping", 4) != 0 || write(25, "pong", 4) != 4 || read(24, buf, 7) != 4
            || memcmp(buf, "pong", 4) != 0)
        thread_failure = "the thread's socketpair does not give back ping unread, then pong the other way";
    verdict_ready = 1;
    return NULL;
}

static ino_t net_of(const char *task) {
    struct stat ns;
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/ns/net", task);
    return stat(path, &ns) == 0 ? ns.st_ino : 0;
}

/* "netnew": whether lo is up and carries a datagram to this socket's own port. */
static int lo_works(void) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr = {0};
    strcpy(ifr.ifr_name, "lo");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    char c = 0;
    int ok = s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP)
            && bind(s, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(s, (struct sockaddr *)&a, &len) == 0
            && sendto(s, "u", 1, 0, (struct sockaddr *)&a, sizeof a) == 1 && recv(s, &c, 1, MSG_DONTWAIT) == 1 && c == 'u';
    if (s >= 0) close(s);
    return ok;
}

static ino_t main_net;

/* "netnew": a net namespace of the thread's own, made and bound nowhere, lo up. */
static void *alone_netnew(void *arg) {
    (void)arg;
    if (unshare(CLONE_NEWNET) != 0) fail("unshare(CLONE_NEWNET)");
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr = {0};
    strcpy(ifr.ifr_name, "lo");
    ifr.ifr_flags = IFF_UP | IFF_LOOPBACK;
    if (s < 0 || ioctl(s, SIOCSIFFLAGS, &ifr) != 0 || close(s) != 0) fail("lo up in the thread's net namespace");
    if (!lo_works()) fail("lo in the thread's net namespace before the dump");
    set_up = 1;
    struct timespec nap = {0, 10000000};
    while (!check) nanosleep(&nap, NULL);
    if (net_of("thread-self") == main_net) thread_failure = "the thread is in its process's net namespace";
    else if (!lo_works()) thread_failure = "lo is not up, or carries nothing, in the thread's net namespace";
    verdict_ready = 1;
    return NULL;
}

static ino_t ns_of(const char *task, const char *kind) {
    struct stat ns;
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/ns/%s", task, kind);
    return stat(path, &ns) == 0 ? ns.st_ino : 0;
}

static ino_t main_cgroup_ns;

/* "cgroupns": whether /proc/thread-self/cgroup shows the root of the thread's cgroup namespace in every hierarchy. */
static int at_cgroup_root(void) {
    char line[512];
    int lines = 0, root = 1;
    FILE *f = fopen("/proc/thread-self/cgroup", "r");
    if (!f) return 0;
    while (fgets(line, sizeof line, f)) {
        char *path = strchr(line, ':');
        path = path ? strchr(path + 1, ':') : NULL;
        lines++;
        if (!path || strcmp(path, ":/\n") != 0) root = 0;
    }
    fclose(f);
    return lines > 0 && root;
}

/* "cgroupns": a cgroup namespace of the thread's own. */
static void *alone_cgroupns(void *arg) {
    (void)arg;
    if (unshare(CLONE_NEWCGROUP) != 0) fail("unshare(CLONE_NEWCGROUP)");
    if (!at_cgroup_root()) fail("the thread is not at the root of its cgroup namespace before the dump");
    set_up = 1;
    struct timespec nap = {0, 10000000};
    while (!check) nanosleep(&nap, NULL);
    if (ns_of("thread-self", "cgroup") == main_cgroup_ns) thread_failure = "the thread is in its process's cgroup namespace";
    else if (!at_cgroup_root()) thread_failure = "the thread is not at the root of its own cgroup namespace";
    verdict_ready = 1;
    return NULL;
}

static ino_t main_ipc_ns;
static volatile int thread_queue = -1;

/* "ipcns": an ipc namespace of the thread's own. */
static void *alone_ipcns(void *arg) {
    (void)arg;
    if (unshare(CLONE_NEWIPC) != 0) fail("unshare(CLONE_NEWIPC)");
    set_up = 1;
    struct timespec nap = {0, 10000000};
    while (!check) nanosleep(&nap, NULL);
    if (ns_of("thread-self", "ipc") == main_ipc_ns) thread_failure = "the thread is in its process's ipc namespace";
    else if ((thread_queue = msgget(IPC_PRIVATE, 0600)) < 0) thread_failure = "msgget in the thread's ipc namespace";
    verdict_ready = 1;
    return NULL;
}

static int in_net(const char *task) {
    struct stat ns, want;
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/ns/net", task);
    return stat(path, &ns) == 0 && stat(net_path, &want) == 0 && ns.st_ino == want.st_ino;
}

/* "uts" and "net": the namespace the thread made or joined alone. */
static void *alone_ns(void *arg) {
    (void)arg;
    int uts = strcmp(mode, "uts") == 0;
    if (uts && (unshare(CLONE_NEWUTS) != 0 || sethostname("cryo-thread", 11) != 0 || setdomainname("cryo-domain", 11) != 0))
        fail("unshare(CLONE_NEWUTS) and its names");
    if (!uts) {
        int fd = open(net_path, O_RDONLY);
        if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) fail("setns into the bound net namespace");
        close(fd);
    }
    set_up = 1;
    struct timespec nap = {0, 10000000};
    while (!check) nanosleep(&nap, NULL);
    struct utsname u;
    if (uts && (uname(&u) != 0 || strcmp(u.nodename, "cryo-thread") != 0 || strcmp(u.domainname, "cryo-domain") != 0))
        thread_failure = "the thread's host or domain name is not its own";
    else if (uts && sethostname("renamed", 7) != 0) thread_failure = "sethostname in the thread";
    else if (!uts && !in_net("thread-self")) thread_failure = "the thread is not in the bound net namespace";
    verdict_ready = 1;
    return NULL;
}

static void *alone(void *arg) {
    (void)arg;
    int root = strcmp(mode, "root") == 0;
    if (unshare(CLONE_FS) != 0) fail("unshare(CLONE_FS)");
    if (chdir("/usr") != 0) fail("chdir /usr");
    if (root && chroot("/usr") != 0) fail("chroot /usr");
    umask(027);
    set_up = 1;
    struct timespec nap = {0, 10000000};
    while (!check) nanosleep(&nap, NULL);
    mode_t mask = umask(0);
    if (mask != 027) thread_failure = "the thread's umask is not 027";
    else if (!same_dir(".", &usr)) thread_failure = "the thread's cwd is not /usr";
    else if (root && !same_dir("/", &usr)) thread_failure = "the thread's root is not /usr";
    else if (!root && !same_dir("/usr", &usr)) thread_failure = "the thread has a root of its own";
    else if (chdir("/") != 0) thread_failure = "chdir / in the thread";
    verdict_ready = 1;
    return NULL;
}

int main(int argc, char **argv) {
    mode = argc > 1 ? argv[1] : "cwd";
    net_path = argc > 2 ? argv[2] : "";
    int ns = strcmp(mode, "uts") == 0 || strcmp(mode, "net") == 0, files = strcmp(mode, "files") == 0;
    int opened = strcmp(mode, "alone") == 0, netnew = strcmp(mode, "netnew") == 0, cgroupns = strcmp(mode, "cgroupns") == 0;
    int ipcns = strcmp(mode, "ipcns") == 0;
    main_ipc_ns = ns_of("self", "ipc");
    main_cgroup_ns = ns_of("self", "cgroup");
    main_net = net_of("self");
    if (files && (pipe(pipe_fds) != 0 || (null_fd = open("/dev/null", O_RDONLY)) < 0)) fail("pipe and /dev/null");
    struct utsname host;
    if (uname(&host) != 0) fail("uname");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    umask(022);
    struct stat here;
    if (stat("/usr", &usr) != 0 || stat(".", &here) != 0) fail("stat");
    if (same_dir(".", &usr)) fail("run it from another directory than /usr");
    pthread_t t;
    if (pthread_create(&t, NULL, ipcns ? alone_ipcns : cgroupns ? alone_cgroupns : netnew ? alone_netnew : opened ? alone_opened : files ? alone_files : ns ? alone_ns : alone, NULL) != 0) fail("pthread_create");
    while (!set_up) usleep(1000);
    printf("ready\n");
    while (!check) pause();
    while (!verdict_ready) usleep(1000);
    if (thread_failure) fail(thread_failure);
    char c;
    if (files && (read(pipe_fds[0], &c, 1) != 1 || c != 'x')) fail("the thread's write through fd 9 did not reach the pipe");
    if (files && (cloexec(pipe_fds[1]) != 0 || cloexec(null_fd) != 0 || cloexec(pipe_fds[0]) != 0))
        fail("the main thread's fds changed with its thread's");
    if (files && cloexec(9) != -1) fail("the main thread has the thread's fd 9");
    for (int fd = 20; opened && fd <= 25; fd++)
        if (cloexec(fd) != -1) fail("the main thread holds one of the fds its thread opened alone");
    struct utsname now;
    if (uname(&now) != 0 || strcmp(now.nodename, host.nodename) != 0 || strcmp(now.domainname, host.domainname) != 0)
        fail("the main thread's host or domain name changed");
    if (*net_path && in_net("self")) fail("the main thread is in the thread's net namespace");
    if (netnew && net_of("self") != main_net) fail("the main thread is not in the net namespace it was in");
    if (cgroupns && ns_of("self", "cgroup") != main_cgroup_ns) fail("the main thread is not in the cgroup namespace it was in");
    if (ipcns && ns_of("self", "ipc") != main_ipc_ns) fail("the main thread is not in the ipc namespace it was in");
    struct msqid_ds q;
    if (ipcns && msgctl(thread_queue, IPC_STAT, &q) == 0) fail("the main thread sees the queue its thread made alone");
    mode_t mask = umask(022);
    if (mask != 022) fail("the main thread's umask is not 022");
    if (!same_dir(".", &here)) fail("the main thread's cwd moved with its thread's");
    if (!same_dir("/usr", &usr)) fail("the main thread's root moved with its thread's");
    printf("PASS\n");
    return 0;
}
