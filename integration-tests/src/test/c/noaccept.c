/*
 * A TCP listener on 127.0.0.1 that never accepts until checked: the test's client connects, and
 * its connection waits in the accept queue through the dump (CRIU's "in-flight" connection). Prints
 * "ready PORT". On SIGUSR2 the queue must be empty (a connection left out by --tcp-skip-in-flight
 * is not there) and the listener must still take a new connection: it connects to itself, accepts
 * it, and prints PASS.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcppeer.h"

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    struct sockaddr_in a;
    int l = listen_loopback(&a, 8);
    printf("ready %d\n", ntohs(a.sin_port));
    while (!check) pause();
    if (fcntl(l, F_SETFL, O_NONBLOCK)) fail("O_NONBLOCK");
    if (accept4(l, NULL, NULL, SOCK_NONBLOCK) >= 0) fail("a connection was still queued");
    if (errno != EAGAIN) fail("accept4 of the empty queue");
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a)) fail("connect to the listener");
    int s = accept4(l, NULL, NULL, SOCK_NONBLOCK);
    if (s < 0) fail("accept4 of a new connection");
    printf("PASS\n");
    return 0;
}
