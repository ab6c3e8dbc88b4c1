/*
 * Unix sockets whose files were renamed within their directory after the bind, as supervisord
 * does (bind DIR/x.PID, rename it over DIR/x): a listener renamed over a dead socket file, and a
 * datagram socket. They came back bound with their files removed, so DIR/s refused every client.
 * Argument: DIR. On SIGUSR2: the names are still the temporary ones, those paths do not exist,
 * DIR/s (mode 0640 kept) reaches the listener and a datagram sent to DIR/d arrives. PASS or FAIL.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "unixaddr.h"

static int bound(int type, struct sockaddr_un *a, socklen_t n) {
    int s = socket(AF_UNIX, type, 0);
    if (s < 0 || bind(s, (struct sockaddr *)a, n)) fail("socket/bind");
    return s;
}

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: sockmoved DIR");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    struct sockaddr_un st, s, dt, d;
    socklen_t stl = addr(&st, argv[1], "s.tmp"), sl = addr(&s, argv[1], "s");
    socklen_t dtl = addr(&dt, argv[1], "d.tmp"), dl = addr(&d, argv[1], "d");
    close(bound(SOCK_STREAM, &s, sl)); /* a dead socket file left at DIR/s by an earlier run */
    int l = bound(SOCK_STREAM, &st, stl);
    if (listen(l, 8) || chmod(st.sun_path, 0640) || rename(st.sun_path, s.sun_path)) fail("listen/rename s");
    int g = bound(SOCK_DGRAM, &dt, dtl);
    if (rename(dt.sun_path, d.sun_path)) fail("rename d");
    printf("ready\n");
    while (!check) pause();

    named(l, &st, stl);
    named(g, &dt, dtl);
    struct stat sb;
    if (stat(st.sun_path, &sb) == 0 || stat(dt.sun_path, &sb) == 0) fail("a temporary name has a file again");
    if (stat(s.sun_path, &sb) || !S_ISSOCK(sb.st_mode) || (sb.st_mode & 07777) != 0640) fail("DIR/s is not the 0640 socket file");
    int k = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(k, (struct sockaddr *)&s, sl)) fail("connect DIR/s");
    if (!waiting(l, 2000)) fail("DIR/s does not reach the listener");
    int c = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (sendto(c, "x", 1, 0, (struct sockaddr *)&d, dl) != 1) fail("send to DIR/d");
    char b;
    if (!waiting(g, 2000) || recv(g, &b, 1, 0) != 1 || b != 'x') fail("DIR/d does not reach the datagram socket");
    printf("PASS\n");
    return 0;
}
