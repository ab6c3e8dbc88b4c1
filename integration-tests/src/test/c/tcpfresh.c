/*
 * A TCP socket made and given options but never bound nor connected yet (sock_diag does not list
 * it): on SIGUSR2 it must still be a TCP socket with its SO_REUSEADDR, SO_LINGER and SO_DONTROUTE
 * (zdtm's sock_opts00 found that one lost), unbound, and
 * able to listen. zdtm's socket-tcp-closed found it refused as "not visible to sock_diag".
 * Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct linger l = {1, 7};
    if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one)
        || setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof l)
        || setsockopt(s, SOL_SOCKET, SO_DONTROUTE, &one, sizeof one)) fail("socket");
    printf("ready\n");
    while (!check) pause();

    int type = 0, reuse = 0;
    struct linger got = {0, 0};
    socklen_t n = sizeof type;
    if (getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &n) || type != SOCK_STREAM) fail("not a stream socket any more");
    n = sizeof reuse;
    if (getsockopt(s, SOL_SOCKET, SO_REUSEADDR, &reuse, &n) || !reuse) fail("SO_REUSEADDR lost");
    int dontroute = 0;
    n = sizeof dontroute;
    if (getsockopt(s, SOL_SOCKET, SO_DONTROUTE, &dontroute, &n) || !dontroute) fail("SO_DONTROUTE lost");
    n = sizeof got;
    if (getsockopt(s, SOL_SOCKET, SO_LINGER, &got, &n) || !got.l_onoff || got.l_linger != 7) fail("SO_LINGER lost");
    struct sockaddr_in a;
    n = sizeof a;
    if (getsockname(s, (struct sockaddr *)&a, &n) || a.sin_port != 0) fail("bound after the restore");
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 1)) fail("cannot bind and listen");
    printf("PASS\n");
    return 0;
}
