/*
 * A TCP listener without SO_REUSEADDR whose program closed its connections first, as an HTTP/1.0
 * server does: each leaves the listener's port in TIME_WAIT for a minute, held by no file. Its
 * restore after a killing dump failed (bind: EADDRINUSE) until cryo ended those leftovers. On
 * SIGUSR2: the listener still has no SO_REUSEADDR, accepts a new connection and answers on it.
 * Prints "ready", then PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>

#include "tcppeer.h"

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    struct sockaddr_in a;
    int l = listen_loopback(&a, 4);
    char buf[8] = {0};
    for (int i = 0; i < 3; i++) { /* served, closed by the server first, then by the client */
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a)) fail("connect");
        int s = accept(l, NULL, NULL);
        if (s < 0 || send(s, "served", 6, 0) != 6 || close(s)) fail("serve");
        if (recv(c, buf, sizeof buf, MSG_WAITALL) != 6 || close(c)) fail("client");
    }
    printf("ready\n");
    while (!check) pause();

    int r = 1;
    socklen_t rl = sizeof r;
    if (getsockopt(l, SOL_SOCKET, SO_REUSEADDR, &r, &rl) || r) { printf("FAIL: the listener's SO_REUSEADDR is %d\n", r); return 1; }
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a)) fail("a new connection");
    int s = accept(l, NULL, NULL);
    memset(buf, 0, sizeof buf);
    if (s < 0 || send(s, "again", 5, 0) != 5 || recv(c, buf, 5, MSG_WAITALL) != 5 || strcmp(buf, "again")) fail("served again");
    printf("PASS\n");
    return 0;
}
