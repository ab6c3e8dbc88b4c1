/*
 * Two connected UDP sockets, one shut for writing, the other for reading, and a third never
 * connected but shut for writing (the kernel records it, answering ENOTCONN). zdtm's
 * socket_udp_shutdown found the shutdown dropped: after a restore the write-shut socket could
 * send again. On SIGUSR2: the write-shut ones still refuse to send (EPIPE), datagrams still
 * flow the other way. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

static struct sockaddr_in loopback(void) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return a;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    signal(SIGPIPE, SIG_IGN);
    int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0), c = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in aa = loopback(), ba = loopback(), ca = loopback();
    socklen_t n = sizeof aa;
    if (bind(a, (struct sockaddr *)&aa, sizeof aa) || getsockname(a, (struct sockaddr *)&aa, &n)) fail("bind a");
    n = sizeof ba;
    if (bind(b, (struct sockaddr *)&ba, sizeof ba) || getsockname(b, (struct sockaddr *)&ba, &n)) fail("bind b");
    if (bind(c, (struct sockaddr *)&ca, sizeof ca)) fail("bind c");
    if (connect(a, (struct sockaddr *)&ba, sizeof ba) || connect(b, (struct sockaddr *)&aa, sizeof aa)) fail("connect");
    if (shutdown(a, SHUT_WR) || shutdown(b, SHUT_RD)) fail("shutdown");
    if (shutdown(c, SHUT_WR) == 0 || errno != ENOTCONN) fail("shutdown of an unconnected socket");
    printf("ready\n");
    while (!check) pause();

    char buf[16];
    if (send(a, "x", 1, 0) >= 0 || errno != EPIPE) fail("the write-shut socket sends again");
    if (sendto(c, "x", 1, 0, (struct sockaddr *)&aa, sizeof aa) >= 0 || errno != EPIPE)
        fail("the unconnected write-shut socket sends again");
    if (send(b, "hello", 5, 0) != 5) fail("send b");
    if (recv(a, buf, sizeof buf, 0) != 5 || memcmp(buf, "hello", 5)) fail("recv a");
    printf("PASS\n");
    return 0;
}
