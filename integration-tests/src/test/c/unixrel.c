/*
 * A unix stream listener bound to a relative path in the cwd (zdtm's sk-unix-rel found it refused),
 * and a datagram server bound to a relative path with a client connected to it by that name
 * (postfix's daemons log to postlogd's public/postlog so; found refused). Argument: the directory
 * to work in. On SIGUSR2: the names are still the relative ones, a client connecting by the
 * listener's name reaches it and is served, and the datagram client's peer is still the server,
 * which gets what it sends. Prints PASS or FAIL.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "workload.h"

int main(int argc, char **argv) {
    if (argc < 2 || chdir(argv[1])) fail("usage: unixrel DIR");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, "rel.sock");
    socklen_t n = (socklen_t)(sizeof a.sun_family + strlen(a.sun_path));
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&a, n) || listen(l, 4)) fail("bind/listen");
    struct sockaddr_un da = {.sun_family = AF_UNIX};
    strcpy(da.sun_path, "rel.dgram");
    socklen_t dn = (socklen_t)(sizeof da.sun_family + strlen(da.sun_path));
    int ds = socket(AF_UNIX, SOCK_DGRAM, 0), dc = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (ds < 0 || dc < 0 || bind(ds, (struct sockaddr *)&da, dn) || connect(dc, (struct sockaddr *)&da, dn))
        fail("datagram bind/connect");
    printf("ready\n");
    while (!check) pause();

    struct sockaddr_un got;
    socklen_t gl = sizeof got;
    memset(&got, 0, sizeof got);
    if (getsockname(l, (struct sockaddr *)&got, &gl) || strcmp(got.sun_path, "rel.sock")) fail("the name changed");
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&a, n)) fail("connect by the relative name");
    int s = accept(l, NULL, NULL);
    char buf[8] = {0};
    if (s < 0 || write(c, "hi", 2) != 2 || read(s, buf, sizeof buf) != 2 || strcmp(buf, "hi")) fail("not served");
    memset(&got, 0, sizeof got);
    gl = sizeof got;
    if (getpeername(dc, (struct sockaddr *)&got, &gl) || strcmp(got.sun_path, "rel.dgram")) fail("the datagram peer changed");
    memset(buf, 0, sizeof buf);
    if (send(dc, "dg", 2, 0) != 2 || recv(ds, buf, sizeof buf, MSG_DONTWAIT) != 2 || strcmp(buf, "dg"))
        fail("the datagram server does not get its client's datagram");
    printf("PASS\n");
    return 0;
}
