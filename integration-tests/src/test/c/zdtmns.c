/*
 * A container as CRIU's zdtm.py makes one for its ns and uns flavors (test/zdtm/lib/ns.c): an
 * init in new pid, mount, net, ipc and uts namespaces ("uns": and a user namespace, with zdtm's
 * two-range maps), its root pivoted to ROOT (a directory of the host holding this static binary
 * and nothing else: no /bin/sleep), its own /proc and a devpts instance. Run on the host as
 * `zdtmns ROOT [uns]`: it prints "init PID" (the init's pid as the host sees it) once the init is
 * ready, and exits; the init prints "ready" before that. The init holds what the flavors showed
 * cryo restoring wrong: an ipc limit of its namespace changed (msgmax), a current directory it
 * removed, with an fd of it too (zdtm cwd01/cwd02), a FIFO of its root with unread bytes (fifo_wronly),
 * an inotify watch on a file of its root and one on a directory whose file it deleted and holds open,
 * which must find no event of the restore's own in its queue (inotify00), a deleted file held open on a tmpfs it mounted
 * (ghost_on_rofs, mntns_link_ghost: in the uns flavor that file system cannot name cryo's uid 0), a child that exec'd (dumpable02) and a zombie
 * (zombie00: its ids in the uns flavor are not cryo's), and sockets of its own net namespace: a unix
 * stream listener and a datagram socket bound at paths of its root (only its view reaches them), each
 * with a client and unread bytes (sockets00, socket_queues), and the child's two bound to names relative
 * to its cwd (sk-unix-rel, socket_close_data01), one bound relative to a directory it left, its file replaced by
 * a FIFO (fifo_upon_unix_socket01), and two listeners bound to one path, the file of the first
 * put back over the second's (del_standalone_un), and a datagram socket with a client, its file
 * and directory removed (sk-unix01); on its loopback a TCP connection whose
 * queues are full both ways (socket-tcpbuf-local) and one closing both ways with its last bytes and
 * FIN unsent (socket-tcp-closing: CLOSING, and FIN_WAIT2 with its receive queue full), and an AF_INET client
 * of a dual-stack AF_INET6 listener that shut its writing (socket-tcp4v6-close-wait: CLOSE_WAIT, FIN_WAIT2).
 * On SIGUSR2 the init checks each, ends the child, prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <sys/un.h>
#include <netinet/in.h>
#include <poll.h>

#include "tcppeer.h"
#include "pivotroot.h"

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
    pivot_root_to(root);
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

static struct sockaddr_un unix_at(const char *path) {
    struct sockaddr_un u = {.sun_family = AF_UNIX};
    strcpy(u.sun_path, path);
    return u;
}

static unsigned char pattern(long i, int from) {
    return (unsigned char)(i * 31 + (i >> 9) + from);
}

/* writes a numbered pattern into s (its peer not reading) until nothing more goes in for 100 ms */
static long fill(int s, int from) {
    long n = 0;
    unsigned char chunk[4096];
    fcntl(s, F_SETFL, O_NONBLOCK);
    for (int idle = 0; idle < 10; ) {
        for (int i = 0; i < (int)sizeof chunk; i++) chunk[i] = pattern(n + i, from);
        ssize_t w = send(s, chunk, sizeof chunk, 0);
        if (w > 0) { n += w; idle = 0; continue; }
        if (errno != EAGAIN) fail("fill");
        idle++;
        usleep(10000);
    }
    return n;
}

/* reads the whole pattern sent into s, then (end) its end of file or (!end) nothing more */
static void drain(int s, long want, int from, int end, const char *what) {
    unsigned char buf[65536];
    long got = 0;
    fcntl(s, F_SETFL, O_NONBLOCK);
    for (int idle = 0; idle < 1000; ) {
        ssize_t n = recv(s, buf, sizeof buf, 0);
        if (n > 0) {
            for (ssize_t i = 0; i < n; i++)
                if (got + i >= want || buf[i] != pattern(got + i, from)) fail(what);
            got += n;
            idle = 0;
        } else if (n == 0) {
            break;
        } else if (errno == EAGAIN && got == want && !end) {
            return;
        } else if (errno == EAGAIN) {
            idle++;
            usleep(10000);
        } else {
            fail(what);
        }
    }
    if (got != want || !end) fail(what);
}

static int tcp_pair(int *accepted) {
    struct sockaddr_in a;
    int l = listen_loopback(&a, 1), s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) || (*accepted = accept(l, NULL, NULL)) < 0) fail("tcp pair");
    close(l);
    return s;
}

/* A connection from an AF_INET socket to an AF_INET6 listener on [::] (the accepted end's addresses are
   v4-mapped), as zdtm's socket-tcp4v6-* make theirs. */
static int tcp_pair_4v6(int *accepted) {
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
    socklen_t len = sizeof a6;
    int l = socket(AF_INET6, SOCK_STREAM, 0), s = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0 || s < 0 || bind(l, (struct sockaddr *)&a6, sizeof a6) || listen(l, 1)
        || getsockname(l, (struct sockaddr *)&a6, &len)) fail("a dual-stack listener");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = a6.sin6_port, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(s, (struct sockaddr *)&a, sizeof a) || (*accepted = accept(l, NULL, NULL)) < 0) fail("tcp 4v6 pair");
    close(l);
    return s;
}

/* One byte on s within 10 s. */
static int one_byte(int s) {
    struct pollfd p = {.fd = s, .events = POLLIN};
    char c;
    return poll(&p, 1, 10000) == 1 && recv(s, &c, 1, MSG_DONTWAIT) == 1 ? c : -1;
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
    /* inotify00: a directory watched for creations and deletions, a file of it held open and deleted */
    int gone = -1, din = inotify_init1(IN_NONBLOCK);
    char dev[sizeof(struct inotify_event) + 64];
    if (mkdir("/wd", 0755) || din < 0 || (gone = open("/wd/gone", O_RDWR | O_CREAT, 0644)) < 0
        || inotify_add_watch(din, "/wd", IN_CREATE | IN_DELETE | IN_CLOSE_WRITE) != 1 || unlink("/wd/gone")
        || read(din, dev, sizeof dev) <= 0)
        fail("the watched directory with a deleted file");
    pid_t child = fork();
    if (child == 0) {
        execl("/zdtmns", "zdtmns", "child", NULL);
        _exit(1);
    }
    struct stat rel;
    for (int i = 0; i < 10000 && (stat("/rel/rel.dgram", &rel) || !S_ISSOCK(rel.st_mode)); i++) usleep(1000);
    pid_t zombie = fork(); /* exits at once, reaped only at the check (zdtm zombie00) */
    if (zombie == 0)
        _exit(7);
    struct ifreq lo = {.ifr_name = "lo"};
    int ctl = socket(AF_INET, SOCK_DGRAM, 0);
    if (ioctl(ctl, SIOCGIFFLAGS, &lo) || (lo.ifr_flags |= IFF_UP, ioctl(ctl, SIOCSIFFLAGS, &lo))) fail("lo up");
    close(ctl);
    struct sockaddr_un su = unix_at("/sock"), du = unix_at("/dgram");
    int ul = socket(AF_UNIX, SOCK_STREAM, 0), uc = socket(AF_UNIX, SOCK_STREAM, 0), ua;
    if (bind(ul, (struct sockaddr *)&su, sizeof su) || listen(ul, 4) || connect(uc, (struct sockaddr *)&su, sizeof su)
        || (ua = accept(ul, NULL, NULL)) < 0 || write(uc, "hello", 5) != 5)
        fail("unix stream");
    int ud = socket(AF_UNIX, SOCK_DGRAM, 0), us = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (bind(ud, (struct sockaddr *)&du, sizeof du) || connect(us, (struct sockaddr *)&du, sizeof du) || send(us, "dg", 2, 0) != 2)
        fail("unix datagram");
    /* zdtm's fifo_upon_unix_socket01: a datagram socket bound to a name relative to /fifos, a client of it, its file
       replaced by a FIFO, the cwd moved away since */
    struct sockaddr_un md = unix_at("moved.dgram");
    int m = socket(AF_UNIX, SOCK_DGRAM, 0), mc = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (mkdir("/fifos", 0755) || chdir("/fifos") || bind(m, (struct sockaddr *)&md, sizeof md)
        || connect(mc, (struct sockaddr *)&md, sizeof md) || unlink("moved.dgram") || mkfifo("moved.dgram", 0600)
        || chdir("/"))
        fail("a datagram socket bound to a relative name, the cwd moved");
    /* zdtm's del_standalone_un: l1's file renamed aside, l2 bound to the same path, l1's file put back over l2's */
    struct sockaddr_un dl = unix_at("/del/sock");
    int l1 = socket(AF_UNIX, SOCK_STREAM, 0), l2 = socket(AF_UNIX, SOCK_STREAM, 0);
    if (mkdir("/del", 0755) || bind(l1, (struct sockaddr *)&dl, sizeof dl) || listen(l1, 1) || rename("/del/sock", "/del/temp")
        || bind(l2, (struct sockaddr *)&dl, sizeof dl) || listen(l2, 1) || rename("/del/temp", "/del/sock"))
        fail("two listeners of one path");
    /* zdtm's sk-unix01: a datagram socket and its client, its file and its directory removed since */
    struct sockaddr_un gd = unix_at("/gone/sock");
    int g = socket(AF_UNIX, SOCK_DGRAM, 0), gc = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (mkdir("/gone", 0755) || bind(g, (struct sockaddr *)&gd, sizeof gd) || connect(gc, (struct sockaddr *)&gd, sizeof gd)
        || unlink("/gone/sock") || rmdir("/gone"))
        fail("a datagram socket whose directory is gone");
    int server, client = tcp_pair(&server);
    long toServer = fill(client, 1), toClient = fill(server, 2);
    int closer, closed = tcp_pair(&closer); /* closer: CLOSING, its bytes and FIN unsent; closed: FIN_WAIT2 */
    long fromCloser = fill(closer, 3);
    shutdown(closer, SHUT_WR);
    long fromClosed = fill(closed, 4);
    shutdown(closed, SHUT_WR);
    drain(closer, fromClosed, 4, 1, "the closing connection before the dump");
    if (!await_tcp_state(closer, TCP_CLOSING) || !await_tcp_state(closed, TCP_FIN_WAIT2)) fail("closing states");
    int waiter, halfshut = tcp_pair_4v6(&waiter); /* socket-tcp4v6-close-wait: waiter CLOSE_WAIT, halfshut FIN_WAIT2 */
    shutdown(halfshut, SHUT_WR);
    if (!await_tcp_state(waiter, TCP_CLOSE_WAIT) || !await_tcp_state(halfshut, TCP_FIN_WAIT2)) fail("4v6 half-closed states");
    /* ghost_on_rofs, mntns_link_ghost (uns): a deleted file on a tmpfs mounted inside, which cannot name cryo's uid 0 */
    int ghost = -1;
    if (mkdir("/ghosts", 0755) || mount("ghosts", "/ghosts", "tmpfs", 0, "size=1m")
        || (ghost = open("/ghosts/g", O_RDWR | O_CREAT, 0644)) < 0 || write(ghost, "ghost", 5) != 5 || unlink("/ghosts/g"))
        fail("the deleted file on a tmpfs of its own");
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
    if (pread(ghost, buf, 5, 0) != 5 || memcmp(buf, "ghost", 5)) fail("the deleted file on its tmpfs");
    int queued = -1;
    if (ioctl(din, FIONREAD, &queued) || queued != 0) fail("events queued by the restore in the watched directory");
    struct inotify_event ev;
    if (write(watched, "x", 1) != 1 || read(in, &ev, sizeof ev) != sizeof ev || ev.wd != 1 || !(ev.mask & IN_MODIFY))
        fail("the inotify watch");
    char exe[64];
    snprintf(exe, sizeof exe, "/proc/%d/exe", child);
    n = readlink(exe, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    if (kill(child, 0) || strcmp(buf, "/zdtmns")) fail("the exec'd child");
    char got[8];
    struct sockaddr_un got_un;
    socklen_t got_len = sizeof got_un;
    int c2 = socket(AF_UNIX, SOCK_STREAM, 0), o = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (read(ua, got, 5) != 5 || memcmp(got, "hello", 5)) fail("the unix stream's unread bytes");
    if (connect(c2, (struct sockaddr *)&su, sizeof su) || accept(ul, NULL, NULL) < 0) fail("the unix listener at /sock");
    if (recv(ud, got, sizeof got, MSG_DONTWAIT) != 2 || memcmp(got, "dg", 2)) fail("the unread datagram at /dgram");
    if (send(us, "d2", 2, 0) != 2 || sendto(o, "d3", 2, 0, (struct sockaddr *)&du, sizeof du) != 2
        || recv(ud, got, sizeof got, MSG_DONTWAIT) != 2 || memcmp(got, "d2", 2)
        || recv(ud, got, sizeof got, MSG_DONTWAIT) != 2 || memcmp(got, "d3", 2))
        fail("the datagram socket at /dgram after the restore");
    struct sockaddr_un rl = unix_at("/rel/rel.sock"), rd = unix_at("/rel/rel.dgram");
    int c3 = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(c3, (struct sockaddr *)&rl, sizeof rl) || sendto(o, "d4", 2, 0, (struct sockaddr *)&rd, sizeof rd) != 2)
        fail("the child's sockets bound to names relative to its cwd");
    int c4 = socket(AF_UNIX, SOCK_STREAM, 0);
    fcntl(l1, F_SETFL, O_NONBLOCK);
    if (connect(c4, (struct sockaddr *)&dl, sizeof dl) || accept(l1, NULL, NULL) < 0)
        fail("the listener whose file is at /del/sock");
    if (getsockname(l2, (struct sockaddr *)&got_un, &got_len) || strcmp(got_un.sun_path, "/del/sock") || listen(l2, 1))
        fail("the listener whose file was replaced");
    got_len = sizeof got_un;
    if (send(mc, "d6", 2, 0) != 2 || recv(m, got, sizeof got, MSG_DONTWAIT) != 2 || memcmp(got, "d6", 2)
        || getsockname(m, (struct sockaddr *)&got_un, &got_len) || strcmp(got_un.sun_path, "moved.dgram"))
        fail("the datagram socket bound to a name relative to a directory it left");
    got_len = sizeof got_un;
    if (send(gc, "d5", 2, 0) != 2 || recv(g, got, sizeof got, MSG_DONTWAIT) != 2 || memcmp(got, "d5", 2)
        || getsockname(g, (struct sockaddr *)&got_un, &got_len) || strcmp(got_un.sun_path, "/gone/sock"))
        fail("the datagram socket whose directory is gone");
    drain(server, toServer, 1, 0, "the bytes queued to the TCP server");
    drain(client, toClient, 2, 0, "the bytes queued to the TCP client");
    if (send(client, "x", 1, 0) != 1) fail("the TCP client writes again");
    drain(server, 1, 'x', 0, "the TCP client's new byte");
    drain(closed, fromCloser, 3, 1, "the closing connection's last bytes and FIN");
    if (read(closer, got, 1) != 0) fail("the closing connection's end of file");
    if (recv(waiter, got, 1, MSG_DONTWAIT) != 0 || send(waiter, "w", 1, 0) != 1 || one_byte(halfshut) != 'w')
        fail("the half-closed 4v6 connection (its end of file one way, a byte the other)");
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
        /* zdtm's sk-unix-rel, sk-unix-listen01, socket_close_data01: names relative to its cwd, a directory of the root */
        struct sockaddr_un rl = unix_at("rel.sock"), rd = unix_at("rel.dgram");
        int l = socket(AF_UNIX, SOCK_STREAM, 0), d = socket(AF_UNIX, SOCK_DGRAM, 0);
        if (mkdir("/rel", 0755) || chdir("/rel") || bind(l, (struct sockaddr *)&rl, sizeof rl) || listen(l, 4)
            || bind(d, (struct sockaddr *)&rd, sizeof rd))
            fail("the child's relative names");
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
