/*
 * Listening unix sockets whose socket files are gone: "a" bound at DIR/sock and its file moved
 * away, "b" bound at DIR/sock after it, then a's file moved back over b's (zdtm's
 * del_standalone_un), and "c" bound at DIR/c whose file was unlinked. All three were refused
 * ("socket file was removed or replaced"). Argument: DIR. On SIGUSR2: each still has its name,
 * DIR/sock reaches a (not b), DIR/c does not exist. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "unixaddr.h"

static int listener(struct sockaddr_un *a, socklen_t n) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (s < 0 || bind(s, (struct sockaddr *)a, n) || listen(s, 4)) fail("bind/listen");
    return s;
}

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: sockgone DIR");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    struct sockaddr_un sa, ta, ca;
    socklen_t sl = addr(&sa, argv[1], "sock"), cl = addr(&ca, argv[1], "c");
    addr(&ta, argv[1], "temp");
    int a = listener(&sa, sl);
    if (rename(sa.sun_path, ta.sun_path)) fail("rename away");
    int b = listener(&sa, sl);
    if (rename(ta.sun_path, sa.sun_path)) fail("rename back");
    int c = listener(&ca, cl);
    if (unlink(ca.sun_path)) fail("unlink");
    printf("ready\n");
    while (!check) pause();

    named(a, &sa, sl);
    named(b, &sa, sl);
    named(c, &ca, cl);
    struct stat st;
    if (stat(ca.sun_path, &st) == 0) fail("c's removed file is back");
    if (stat(sa.sun_path, &st) || !S_ISSOCK(st.st_mode)) fail("the socket file at DIR/sock is gone");
    int k = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(k, (struct sockaddr *)&sa, sl)) fail("connect DIR/sock");
    if (!waiting(a, 200) || waiting(b, 200)) fail("DIR/sock no longer reaches a");
    printf("PASS\n");
    return 0;
}
