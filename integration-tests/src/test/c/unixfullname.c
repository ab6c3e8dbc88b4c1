/*
 * Abstract unix names that fill all of sun_path, as libqb (corosync, pacemaker) binds its IPC
 * listeners: a NUL, the service name, then NULs up to 108 bytes, all of them part of the name.
 * A stream listener so named with a connection accepted, and a datagram socket of such a name
 * with a datagram from it unread at a second one. Like libqb, the listener has SO_PASSCRED on and
 * the accepted socket, which the kernel gave its listener's flag, has it off again. On SIGUSR2:
 * both names are still all 108 bytes, SO_PASSCRED is on the listener only, the old connection
 * carries bytes both ways, a new client connects by the full name, and the datagram's sender is
 * the full name. Prints PASS or FAIL: why.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "workload.h"

static socklen_t full(struct sockaddr_un *a, const char *what) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "cryo-full-%s-%d", what, getpid());
    return sizeof *a; /* the trailing NULs belong to the name */
}

static int passcred(int s) {
    int v = -1;
    socklen_t n = sizeof v;
    if (getsockopt(s, SOL_SOCKET, SO_PASSCRED, &v, &n)) fail("getsockopt");
    return v;
}

static int same(int s, const struct sockaddr_un *want) {
    struct sockaddr_un got;
    socklen_t gl = sizeof got;
    return !getsockname(s, (struct sockaddr *)&got, &gl) && gl == sizeof got && !memcmp(&got, want, sizeof got);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    struct sockaddr_un ln, dn, rn;
    full(&ln, "listener");
    full(&dn, "sender");
    full(&rn, "receiver");
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    int on = 1, off = 0;
    if (l < 0 || bind(l, (struct sockaddr *)&ln, sizeof ln) || listen(l, 4)) fail("listen");
    if (setsockopt(l, SOL_SOCKET, SO_PASSCRED, &on, sizeof on)) fail("SO_PASSCRED on the listener");
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&ln, sizeof ln)) fail("connect");
    int a = accept(l, NULL, NULL);
    if (a < 0) fail("accept");
    if (passcred(a) != 1) fail("the accepted socket did not take its listener's SO_PASSCRED");
    if (setsockopt(a, SOL_SOCKET, SO_PASSCRED, &off, sizeof off)) fail("SO_PASSCRED off");
    int d = socket(AF_UNIX, SOCK_DGRAM, 0), r = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (d < 0 || r < 0 || bind(d, (struct sockaddr *)&dn, sizeof dn) || bind(r, (struct sockaddr *)&rn, sizeof rn))
        fail("bind datagram sockets");
    if (sendto(d, "hi", 2, 0, (struct sockaddr *)&rn, sizeof rn) != 2) fail("sendto");
    printf("ready\n");
    while (!check) pause();

    if (!same(l, &ln)) fail("the listener's full-length name changed");
    if (!same(d, &dn) || !same(r, &rn)) fail("a datagram socket's full-length name changed");
    if (passcred(l) != 1) fail("the listener lost SO_PASSCRED");
    if (passcred(a) != 0) fail("the accepted socket has SO_PASSCRED on again");
    char buf[8] = {0};
    if (write(c, "ping", 4) != 4 || read(a, buf, sizeof buf) != 4 || memcmp(buf, "ping", 4)) fail("old connection");
    if (write(a, "pong", 4) != 4 || read(c, buf, sizeof buf) != 4 || memcmp(buf, "pong", 4)) fail("old connection back");
    int n = socket(AF_UNIX, SOCK_STREAM, 0);
    if (n < 0 || connect(n, (struct sockaddr *)&ln, sizeof ln)) fail("a new client connecting by the full name");
    if (accept(l, NULL, NULL) < 0) fail("accept the new client");
    struct sockaddr_un from;
    socklen_t fl = sizeof from;
    if (recvfrom(r, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl) != 2 || fl != sizeof from
        || memcmp(&from, &dn, sizeof dn))
        fail("the unread datagram or its sender's full-length name is lost");
    printf("PASS\n");
    return 0;
}
