/*
 * A container as CRIU's zdtm.py makes one for its ns and uns flavors (test/zdtm/lib/ns.c): an
 * init in new pid, mount, net, ipc and uts namespaces ("uns": and a user namespace, with zdtm's
 * two-range maps), its root pivoted to ROOT (a directory of the host holding this static binary
 * and nothing else: no /bin/sleep), its own /proc and a devpts instance. Run on the host as
 * `zdtmns ROOT [uns]`: it prints "init PID" (the init's pid as the host sees it) once the init is
 * ready, and exits; the init prints "ready" before that. The init holds what the flavors showed
 * cryo restoring wrong: an ipc limit of its namespace changed (msgmax), a current directory it
 * removed, with an fd of it too (zdtm cwd01/cwd02), a FIFO of its root with unread bytes (fifo_wronly),
 * an inotify watch on a file of its root (inotify00), a child that exec'd (dumpable02) and a zombie
 * (zombie00: its ids in the uns flavor are not cryo's).
 * On SIGUSR2 the init checks each, ends the child, prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "workload.h"

#define UID_MAP "0 20000 20000\n100000 200000 50000"
#define GID_MAP "0 400000 50000\n50000 500000 100000"
#define MSGMAX "16384"
#define STATUS 255

static int sp[2];
static const char *root;
static int init(void);

static void write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) fail(path);
    close(fd);
}

static void read_file(const char *path, char *buf, size_t n) {
    int fd = open(path, O_RDONLY);
    ssize_t r = fd < 0 ? -1 : read(fd, buf, n - 1);
    buf[r > 0 ? r : 0] = 0;
    close(fd);
}

/* the flavor's root: the init's own mount namespace pivoted to ROOT, with its own proc and devpts */
static void pivot(void) {
    if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL)) fail("slave /");
    if (mount(root, root, NULL, MS_BIND | MS_REC, NULL)) fail("bind root");
    if (chdir(root) || (mkdir("old", 0777) && errno != EEXIST)) fail("mkdir old");
    if (syscall(SYS_pivot_root, ".", "old")) fail("pivot_root");
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL)) fail("mount proc");
    if (umount2("/old", MNT_DETACH) || rmdir("/old")) fail("umount old");
    if (mount("pts", "/dev/pts", "devpts", 0, "mode=666,ptmxmode=666,newinstance")) fail("mount devpts");
    if (chdir("/")) fail("chdir /");
}

/* the clone: waits for its maps, pivots and execs this program from the new root, as ns_exec does */
static int born(void *arg) {
    char c;
    (void)arg;
    close(sp[0]);
    if (read(sp[1], &c, 1) < 0) fail("wait for the maps");
    setsid();
    if (setgid(0) || setuid(0) || setgroups(0, NULL)) fail("set*id");
    pivot();
    if (dup2(sp[1], STATUS) != STATUS || close(sp[1])) fail("dup2");
    execl("/zdtmns", "zdtmns", "init", NULL);
    fail("exec /zdtmns init");
    return 1;
}

static int init(void) {
    char buf[256];
    struct stat a, b;
    fcntl(STATUS, F_SETFD, FD_CLOEXEC);
    signal(SIGUSR2, on_usr2);
    write_file("/proc/sys/kernel/msgmax", MSGMAX);
    if (mkfifo("/fifo", 0600)) fail("mkfifo");
    int fifo = open("/fifo", O_RDWR);
    if (fifo < 0 || write(fifo, "abc", 3) != 3) fail("fifo");
    int watched = open("/watched", O_CREAT | O_WRONLY, 0644);
    int in = inotify_init1(IN_NONBLOCK);
    if (watched < 0 || in < 0 || inotify_add_watch(in, "/watched", IN_MODIFY) != 1) fail("inotify");
    pid_t child = fork();
    if (child == 0) {
        execl("/zdtmns", "zdtmns", "child", NULL);
        _exit(1);
    }
    pid_t zombie = fork(); /* exits at once, reaped only at the check (zdtm zombie00) */
    if (zombie == 0)
        _exit(7);
    if (mkdir("/work", 0700) || chdir("/work")) fail("mkdir /work");
    int dir = open(".", O_RDONLY | O_DIRECTORY);
    if (dir < 0 || rmdir("/work")) fail("rmdir /work");
    int status = 0;
    if (write(STATUS, &status, sizeof status) != sizeof status) fail("status");
    close(STATUS);
    printf("ready\n");
    fflush(stdout);

    while (!check) pause();
    read_file("/proc/sys/kernel/msgmax", buf, sizeof buf);
    if (strcmp(buf, MSGMAX "\n")) fail("msgmax is not " MSGMAX);
    ssize_t n = readlink("/proc/self/cwd", buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    if (strcmp(buf, "/work (deleted)")) fail("the cwd is not the removed /work");
    if (fstat(dir, &a) || stat("/proc/self/cwd", &b) || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
        fail("the fd of the removed /work is not the cwd");
    if (read(fifo, buf, 4) != 3 || memcmp(buf, "abc", 3)) fail("the fifo's bytes");
    struct inotify_event ev;
    if (write(watched, "x", 1) != 1 || read(in, &ev, sizeof ev) != sizeof ev || ev.wd != 1 || !(ev.mask & IN_MODIFY))
        fail("the inotify watch");
    char exe[64];
    snprintf(exe, sizeof exe, "/proc/%d/exe", child);
    n = readlink(exe, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    if (kill(child, 0) || strcmp(buf, "/zdtmns")) fail("the exec'd child");
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    if (waitpid(zombie, &status, WNOHANG) != zombie || !WIFEXITED(status) || WEXITSTATUS(status) != 7)
        fail("the zombie's exit status");
    printf("PASS\n");
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    static char stack[1 << 16] __attribute__((aligned(16)));
    char path[64];
    int status = 1, flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWNET | CLONE_NEWIPC | SIGCHLD;
    if (argc > 1 && !strcmp(argv[1], "child")) { /* the exec'd child: waits to be ended, at most 10 minutes */
        for (int i = 0; i < 600; i++) sleep(1);
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "init"))
        return init();
    if (argc < 2) fail("usage: zdtmns ROOT [uns]");
    root = argv[1];
    if (argc > 2 && !strcmp(argv[2], "uns")) flags |= CLONE_NEWUSER;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp)) fail("socketpair");
    pid_t pid = clone(born, stack + sizeof stack, flags, NULL);
    if (pid < 0) fail("clone");
    close(sp[1]);
    if (flags & CLONE_NEWUSER) {
        snprintf(path, sizeof path, "/proc/%d/uid_map", pid);
        write_file(path, UID_MAP);
        snprintf(path, sizeof path, "/proc/%d/gid_map", pid);
        write_file(path, GID_MAP);
    }
    if (write(sp[0], "", 1) != 1 || read(sp[0], &status, sizeof status) != sizeof status || status) {
        kill(pid, SIGKILL);
        fail("the init did not get ready");
    }
    printf("init %d\n", pid);
    return 0;
}
