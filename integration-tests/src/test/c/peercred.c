/*
 * SO_PEERCRED of unix sockets, which the kernel records at socketpair(), listen() and connect()
 * and nothing changes afterwards (D-Bus, polkit, PostgreSQL's peer authentication check it):
 *   - a stream pair made by the root before it forked a child (both ends: the root, uid 0);
 *   - a listener of the root's, listening while the root's euid/egid were 4343/4242;
 *   - a connection from the child (euid/egid 1001/1002 at its connect), accepted by the root: the
 *     accepted end names the child (1001/1002), the child's end the listener (root, 4343/4242);
 *   - a second connection from the child (as root), not accepted yet: accepted after the restore,
 *     it must name the child;
 *   - a datagram pair made by a child that exited since (euid/egid 1001/1002: zdtm's
 *     sock_peercred), passed to the root, and that child's connection, accepted, its end closed.
 * Prints every socket's credentials at "ready"; on SIGUSR2 reads them again and prints PASS or
 * FAIL: which one changed. Before the fix every restored socket named cryo's restoring process.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"
#include "scmfds.h"

static struct sockaddr_un name;
static socklen_t namelen;

static struct ucred creds(int s) {
    struct ucred c;
    socklen_t n = sizeof c;
    if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &c, &n)) fail("SO_PEERCRED");
    return c;
}

static void as(uid_t uid, gid_t gid) {
    if (setresgid(-1, gid, -1) || setresuid(-1, uid, -1)) fail("setresuid");
}

static void root(void) {
    if (setresuid(-1, 0, -1) || setresgid(-1, 0, -1)) fail("back to root");
}

static int dial(void) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&name, namelen)) fail("connect");
    return s;
}

/* The child: connects twice, tells the root, and lives until the root is gone (at most 10 minutes). */
static void child(int chan, pid_t parent) {
    as(1001, 1002);
    int k1 = dial();
    root();
    int k2 = dial();
    char line[64];
    snprintf(line, sizeof line, "%d %d", k1, k2);
    if (write(chan, line, strlen(line)) < 0) _exit(2);
    for (int i = 0; i < 600 && getppid() == parent; i++) sleep(1);
    _exit(0);
}

static const char *names[] = {"pair (root's end)", "listener", "accepted from the child", "datagram pair end 1",
                              "datagram pair end 2", "accepted from the exited child", "channel to the exited child"};
#define N 7

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    pid_t me = getpid();
    name.sun_family = AF_UNIX;
    int len = snprintf(name.sun_path + 1, sizeof name.sun_path - 1, "cryo-peercred-%d", me);
    namelen = offsetof(struct sockaddr_un, sun_path) + 1 + len;

    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair)) fail("socketpair");
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&name, namelen)) fail("bind");
    as(4343, 4242);
    if (listen(l, 8)) fail("listen");
    root();

    int chan[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, chan)) fail("socketpair (channel)");
    pid_t e = fork();
    if (e == 0) { /* zdtm's sock_peercred: another identity makes a datagram pair and exits */
        close(chan[0]);
        as(1001, 1002);
        int d[2];
        if (socketpair(AF_UNIX, SOCK_DGRAM, 0, d)) _exit(2);
        send_fds(chan[1], "d", d, 2);
        dial();
        _exit(0);
    }
    close(chan[1]);
    int st;
    if (waitpid(e, &st, 0) != e || !WIFEXITED(st) || WEXITSTATUS(st)) fail("the exiting child failed");
    int fds[4];
    char m[8];
    if (recv_fds(chan[0], m, sizeof m, fds, NULL) != 2) fail("the datagram pair did not come");
    int a3 = accept(l, NULL, NULL);
    if (a3 < 0) fail("accept (exited child)");
    pid_t c = fork();
    if (c < 0) fail("fork");
    if (c == 0) {
        close(pair[0]);
        child(pair[1], me);
    }
    close(pair[1]);
    char got[64] = {0};
    if (read(pair[0], got, sizeof got - 1) <= 0) fail("the child did not connect");
    int a1 = accept(l, NULL, NULL);
    if (a1 < 0) fail("accept");

    /* the child's second connection waits in the queue */

    int socks[N] = {pair[0], l, a1, fds[0], fds[1], a3, chan[0]};
    struct ucred want[N];
    for (int i = 0; i < N; i++) {
        want[i] = creds(socks[i]);
        printf("%s: pid %d uid %d gid %d\n", names[i], want[i].pid, want[i].uid, want[i].gid);
    }
    struct ucred expect_[N] = {{me, 0, 0}, {me, 4343, 4242}, {c, 1001, 1002}, {e, 1001, 1002}, {e, 1001, 1002},
                               {e, 1001, 1002}, {me, 0, 0}};
    for (int i = 0; i < N; i++)
        if (memcmp(&want[i], &expect_[i], sizeof want[i])) { printf("FAIL: setup: %s\n", names[i]); return 1; }
    printf("child %d exited child %d\n", c, e);
    printf("ready\n");
    while (!check) pause();

    int bad = 0;
    for (int i = 0; i < N; i++) {
        struct ucred now = creds(socks[i]);
        if (memcmp(&now, &want[i], sizeof now)) {
            printf("FAIL: %s: SO_PEERCRED pid %d uid %d gid %d, was pid %d uid %d gid %d\n", names[i], now.pid, now.uid,
                   now.gid, want[i].pid, want[i].uid, want[i].gid);
            bad = 1;
        }
    }
    int a2 = accept4(l, NULL, NULL, SOCK_NONBLOCK);
    if (a2 < 0) { printf("FAIL: the pending connection is gone (errno %d)\n", errno); bad = 1; }
    else {
        struct ucred p = creds(a2);
        if (p.pid != c || p.uid != 0 || p.gid != 0) {
            printf("FAIL: pending connection: SO_PEERCRED pid %d uid %d gid %d, want pid %d uid 0 gid 0\n", p.pid, p.uid,
                   p.gid, c);
            bad = 1;
        }
    }
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
    if (!bad) printf("PASS\n");
    return bad;
}
