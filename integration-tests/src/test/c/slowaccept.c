/*
 * A TCP server on 127.0.0.1 that accepts the connections queued every 100 ms (a busy program's
 * accept loop, slowed so that its queue is seldom empty under a client's load) and greets each with
 * "hello N\n", keeping it open. Prints "ready PORT". On SIGUSR2 accepts what is left in its queue,
 * greets it, and prints PASS with the number of connections it served.
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

static int served;

static void serve(int l) {
    for (;;) {
        int c = accept4(l, NULL, NULL, SOCK_NONBLOCK);
        if (c < 0) return;
        char line[32];
        int n = snprintf(line, sizeof line, "hello %d\n", ++served);
        if (write(c, line, n) != n) fail("write");
        if (served > 4000) close(c); /* bounded: the test's clients stop long before */
    }
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 64) || getsockname(l, (struct sockaddr *)&a, &n))
        fail("listen");
    printf("ready %d\n", ntohs(a.sin_port));
    struct timespec tick = {0, 100 * 1000 * 1000};
    while (!check) {
        nanosleep(&tick, NULL);
        serve(l);
    }
    serve(l);
    printf("PASS served %d\n", served);
    return 0;
}
