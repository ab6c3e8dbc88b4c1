/*
 * Unix stream and seqpacket sockets that are bound but neither listening nor connected (a server
 * that calls listen() later), one on an abstract name and one on a path in DIR, and one never
 * bound. Argument: the directory. The dump used to fail on them (peeking the queue of a socket
 * that has none). On SIGUSR2 checks that each still has its name, then listens on the bound ones
 * and connects to them, and prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "workload.h"

static void same_name(int s, const struct sockaddr_un *a, socklen_t len, const char *what) {
    struct sockaddr_un b;
    socklen_t bl = sizeof b;
    if (getsockname(s, (struct sockaddr *)&b, &bl) < 0 || bl != len || memcmp(a, &b, len)) fail(what);
}

static void serve_and_connect(int s, const struct sockaddr_un *a, socklen_t len, int type, const char *what) {
    if (listen(s, 1) < 0) fail(what);
    int c = socket(AF_UNIX, type, 0);
    if (c < 0 || connect(c, (const struct sockaddr *)a, len) < 0) fail(what);
    int acc = accept(s, NULL, NULL);
    if (acc < 0 || write(c, "x", 1) != 1) fail(what);
    char b;
    if (read(acc, &b, 1) != 1 || b != 'x') fail(what);
}

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: unixidle DIR");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    struct sockaddr_un abs = {.sun_family = AF_UNIX}, path = {.sun_family = AF_UNIX};
    snprintf(abs.sun_path + 1, sizeof abs.sun_path - 1, "cryo-unixidle-%d", getpid());
    socklen_t abslen = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(abs.sun_path + 1);
    snprintf(path.sun_path, sizeof path.sun_path, "%s/sock", argv[1]);
    socklen_t pathlen = offsetof(struct sockaddr_un, sun_path) + strlen(path.sun_path) + 1;
    int a = socket(AF_UNIX, SOCK_STREAM, 0), p = socket(AF_UNIX, SOCK_SEQPACKET, 0), u = socket(AF_UNIX, SOCK_STREAM, 0);
    if (a < 0 || p < 0 || u < 0) fail("socket");
    if (bind(a, (struct sockaddr *)&abs, abslen) < 0 || bind(p, (struct sockaddr *)&path, pathlen) < 0) fail("bind");
    printf("ready\n");
    while (!check) pause();
    same_name(a, &abs, abslen, "the abstract name changed");
    same_name(p, &path, pathlen, "the path name changed");
    struct sockaddr_un none;
    socklen_t nl = sizeof none;
    if (getsockname(u, (struct sockaddr *)&none, &nl) < 0 || nl != sizeof(sa_family_t)) fail("the unbound socket got a name");
    serve_and_connect(a, &abs, abslen, SOCK_STREAM, "the abstract socket does not serve");
    serve_and_connect(p, &path, pathlen, SOCK_SEQPACKET, "the path socket does not serve");
    printf("PASS\n");
    return 0;
}
