/*
 * A container's supervisor talking to its child over unix sockets, run as the init of a pid
 * namespace (unshare --pid --fork --mount-proc) or in a net namespace of its own (unshare -n), or
 * plainly. The kernel records the caller of socketpair(), listen() and connect() with the sockets:
 * SO_PEERCRED (pid, euid, egid), SO_PEERPIDFD (a pidfd of that very process) and SO_PEERGROUPS
 * (its supplementary groups then):
 *   - a stream pair made by the init (groups 3001 3002), one end given to its child;
 *   - a listener on an abstract name, listening while the init was 4343/4242 with group 4001;
 *   - the child's connection (1001/1002, groups 2001 2002), accepted by the init.
 * On SIGUSR2 the init checks its ends and asks the child to check its own over the pair; prints
 * PASS or FAIL naming what changed. Before the fix the restore made these sockets in cryo's name
 * (pid, uid 0, cryo's groups) in both namespaces, and a pidfd of an exited stand-in elsewhere.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

static struct sockaddr_un name;
static socklen_t namelen;

static void as(uid_t uid, gid_t gid, int n, const gid_t *groups) {
    if (setgroups(n, groups) || setresgid(-1, gid, -1) || setresuid(-1, uid, -1)) fail("setresuid");
}

static const gid_t root_groups[] = {3001, 3002}, listen_groups[] = {4001}, child_groups[] = {2001, 2002};

static void root(void) {
    if (setresuid(-1, 0, -1) || setresgid(-1, 0, -1) || setgroups(2, root_groups)) fail("back to root");
}

/* The pid a pidfd names, from its fdinfo (-1: exited; -2: none). */
static int pidfd_pid(int s) {
    int fd;
    socklen_t n = sizeof fd;
    if (getsockopt(s, SOL_SOCKET, SO_PEERPIDFD, &fd, &n)) return -2;
    char path[64], line[128];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
    FILE *f = fopen(path, "r");
    int pid = -3;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "Pid:", 4)) pid = atoi(line + 4);
    if (f) fclose(f);
    close(fd);
    return pid;
}

/* "" when socket s names pid/uid/gid/groups as its peer and its pidfd is of that pid; else what differs. */
static const char *differs(int s, pid_t pid, uid_t uid, gid_t gid, int ng, const gid_t *groups) {
    static char why[256];
    struct ucred c;
    socklen_t n = sizeof c;
    gid_t g[16];
    socklen_t gl = sizeof g;
    if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &c, &n)) return "SO_PEERCRED failed";
    if (c.pid != pid || c.uid != uid || c.gid != gid) {
        snprintf(why, sizeof why, "SO_PEERCRED pid %d uid %d gid %d, want pid %d uid %d gid %d", c.pid, c.uid, c.gid,
                 pid, uid, gid);
        return why;
    }
    if (getsockopt(s, SOL_SOCKET, SO_PEERGROUPS, g, &gl)) return "SO_PEERGROUPS failed";
    if ((int)(gl / sizeof(gid_t)) != ng || memcmp(g, groups, gl)) {
        snprintf(why, sizeof why, "SO_PEERGROUPS has %d groups (first %d), want %d (first %d)", (int)(gl / sizeof(gid_t)),
                 gl ? (int)g[0] : -1, ng, (int)groups[0]);
        return why;
    }
    int p = pidfd_pid(s);
    if (p != pid) {
        snprintf(why, sizeof why, "SO_PEERPIDFD names pid %d, want %d", p, pid);
        return why;
    }
    return "";
}

/* The child: connects as another identity, then answers "check" requests until its parent is gone. */
static void child(int chan, pid_t parent) {
    as(1001, 1002, 2, child_groups);
    int k = socket(AF_UNIX, SOCK_STREAM, 0);
    if (k < 0 || connect(k, (struct sockaddr *)&name, namelen)) _exit(2);
    if (setresuid(-1, 0, -1) || setresgid(-1, 0, -1)) _exit(2);
    if (write(chan, "k", 1) != 1) _exit(2);
    char req[16];
    for (int i = 0; i < 600 && getppid() == parent; i++) {
        ssize_t n = read(chan, req, sizeof req);
        if (n <= 0) _exit(0);
        char out[300];
        const char *a = differs(chan, parent, 0, 0, 2, root_groups);
        const char *b = differs(k, parent, 4343, 4242, 1, listen_groups);
        snprintf(out, sizeof out, "%s%s%s%s", *a ? "child's pair end: " : "", a, *b ? " child's connection: " : "", b);
        if (write(chan, *out ? out : "ok", *out ? strlen(out) : 2) < 0) _exit(2);
    }
    _exit(0);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    pid_t me = getpid();
    name.sun_family = AF_UNIX;
    int len = snprintf(name.sun_path + 1, sizeof name.sun_path - 1, "cryo-peercredns-%d-%d", me, (int)time(NULL));
    namelen = offsetof(struct sockaddr_un, sun_path) + 1 + len;
    if (setgroups(2, root_groups)) fail("setgroups");

    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair)) fail("socketpair");
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&name, namelen)) fail("bind");
    as(4343, 4242, 1, listen_groups);
    if (listen(l, 8)) fail("listen");
    root();
    pid_t c = fork();
    if (c < 0) fail("fork");
    if (c == 0) {
        close(pair[0]);
        child(pair[1], me);
    }
    close(pair[1]);
    char got;
    if (read(pair[0], &got, 1) != 1) fail("the child did not connect");
    int a = accept(l, NULL, NULL);
    if (a < 0) fail("accept");
    const char *w;
    if (*(w = differs(pair[0], me, 0, 0, 2, root_groups)) || *(w = differs(l, me, 4343, 4242, 1, listen_groups))
        || *(w = differs(a, c, 1001, 1002, 2, child_groups))) {
        printf("FAIL: setup: %s\n", w);
        return 1;
    }
    printf("init %d child %d\n", me, c);
    printf("ready\n");
    while (!check) pause();

    int bad = 0;
    const char *what[] = {"pair end", "listener", "accepted connection"};
    const char *why[] = {differs(pair[0], me, 0, 0, 2, root_groups), NULL, NULL};
    char first[256];
    snprintf(first, sizeof first, "%s", why[0]);
    why[0] = first;
    char second[256];
    snprintf(second, sizeof second, "%s", differs(l, me, 4343, 4242, 1, listen_groups));
    why[1] = second;
    why[2] = differs(a, c, 1001, 1002, 2, child_groups);
    for (int i = 0; i < 3; i++)
        if (*why[i]) { printf("FAIL: %s: %s\n", what[i], why[i]); bad = 1; }
    char reply[300] = {0};
    if (write(pair[0], "check", 5) != 5 || read(pair[0], reply, sizeof reply - 1) <= 0) {
        printf("FAIL: the child did not answer\n");
        bad = 1;
    } else if (strcmp(reply, "ok")) {
        printf("FAIL: %s\n", reply);
        bad = 1;
    }
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
    if (!bad) printf("PASS\n");
    return bad;
}
