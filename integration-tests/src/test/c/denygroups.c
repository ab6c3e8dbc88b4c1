/*
 * A task with supplementary groups in a user namespace that denies setgroups (every unprivileged
 * one: a rootless container's tasks keep their user's groups), holding unix sockets it made there:
 * a stream pair and a listener with a connection to it, accepted. Nothing can set its groups in
 * there: the restore must fork it with them (it failed: "cannot be set in its user namespace"),
 * and the sockets' SO_PEERGROUPS name them. Run it under `setpriv --groups ...`; the groups are
 * not mapped inside (they read as the overflow gid). Without an argument the task itself is in the
 * namespace (`unshare -U -r` execs it); with "fork" it stays outside and forks a child that
 * unshares one (the parent writes its maps), and the child holds the sockets and checks.
 * On SIGUSR2 (the parent passes it on) the groups and every socket's SO_PEERGROUPS must be as they
 * were. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

#define MAX 64

static int peerGroups(int s, gid_t *g) {
    socklen_t n = MAX * sizeof(gid_t);
    if (getsockopt(s, SOL_SOCKET, SO_PEERGROUPS, g, &n)) fail("SO_PEERGROUPS");
    return n / sizeof(gid_t);
}

static void same(int n1, gid_t *a, int n2, gid_t *b, const char *what) {
    if (n1 != n2 || memcmp(a, b, n1 * sizeof(gid_t))) {
        printf("FAIL: %s: %d groups before, %d now\n", what, n1, n2);
        exit(1);
    }
}

static void writeFile(pid_t pid, const char *file, const char *text) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", pid, file);
    int fd = open(path, O_WRONLY);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) fail(path);
    close(fd);
}

static int holder(void) {
    int pair[2], l = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0), a;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    socklen_t len = sizeof addr;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair)) fail("socketpair");
    /* an autobound abstract name: unique in the namespace */
    if (bind(l, (struct sockaddr *)&addr, sizeof(sa_family_t)) || getsockname(l, (struct sockaddr *)&addr, &len)
        || listen(l, 4) || connect(c, (struct sockaddr *)&addr, len)) fail("listen");
    if ((a = accept(l, NULL, NULL)) < 0) fail("accept");

    gid_t g[MAX], p0[MAX], p1[MAX], pc[MAX], pa[MAX], now[MAX];
    int n = getgroups(MAX, g), n0 = peerGroups(pair[0], p0), n1 = peerGroups(pair[1], p1);
    int nc = peerGroups(c, pc), na = peerGroups(a, pa);
    if (n < 1) fail("no supplementary groups: run it under setpriv --groups");
    printf("ready\n");
    while (!check) pause();

    same(n, g, getgroups(MAX, now), now, "getgroups");
    same(n0, p0, peerGroups(pair[0], now), now, "SO_PEERGROUPS of the pair's first end");
    same(n1, p1, peerGroups(pair[1], now), now, "SO_PEERGROUPS of the pair's second end");
    same(nc, pc, peerGroups(c, now), now, "SO_PEERGROUPS of the client (the listener's)");
    same(na, pa, peerGroups(a, now), now, "SO_PEERGROUPS of the accepted end (the client's)");
    printf("PASS\n");
    return 0;
}

static volatile pid_t child;

static void pass(int sig) {
    (void)sig;
    kill(child, SIGUSR2);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2) return holder();

    int go[2], done[2];
    if (pipe(go) || pipe(done)) fail("pipe");
    child = fork();
    if (child == 0) {
        char b;
        if (unshare(CLONE_NEWUSER)) fail("unshare");
        if (write(done[1], "u", 1) != 1) fail("write unshared");
        if (read(go[0], &b, 1) != 1) fail("read go"); /* the maps are written */
        if (setresgid(0, 0, 0) || setresuid(0, 0, 0)) fail("root inside");
        return holder();
    }
    signal(SIGUSR2, pass);
    char b;
    if (read(done[0], &b, 1) != 1) fail("read unshared");
    writeFile(child, "setgroups", "deny");
    writeFile(child, "uid_map", "0 0 1\n");
    writeFile(child, "gid_map", "0 0 1\n");
    if (write(go[1], "g", 1) != 1) fail("write go");
    int status;
    while (waitpid(child, &status, 0) < 0) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
