/*
 * udperror — connected UDP sockets (IPv4, IPv6, and IPv6 to an IPv4-mapped peer) whose datagram met a closed port: the ICMP error
 * waits in each socket (ECONNREFUSED) until the program's next receive or send. A dump and restore lost
 * it without a word (the receive found nothing: EAGAIN), then refused such a socket; cryo now takes it
 * and makes it again with an ICMP error of its own. Prints "ready".
 * On SIGUSR2: a receive of each returns ECONNREFUSED, then EAGAIN. Prints "PASS" or "FAIL: why".
 * With "recverr": the IPv4 socket keeps an error queue too (IP_RECVERR), which is still refused.
 */
#define _GNU_SOURCE
#include "workload.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int recverr;

static int refused(int family, int mapped)
{
    struct sockaddr_storage a = {.ss_family = family};
    if (family == AF_INET) {
        ((struct sockaddr_in *)&a)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (mapped) { // ::ffff:127.0.0.1, a dual-stack socket's IPv4 peer
        inet_pton(AF_INET6, "::ffff:127.0.0.1", &((struct sockaddr_in6 *)&a)->sin6_addr);
    } else {
        ((struct sockaddr_in6 *)&a)->sin6_addr = in6addr_loopback;
    }
    socklen_t n = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    int closed = socket(family, SOCK_DGRAM, 0);
    if (bind(closed, (struct sockaddr *)&a, n) || getsockname(closed, (struct sockaddr *)&a, &n)) fail("bind");
    close(closed); // a port nobody holds now
    int s = socket(family, SOCK_DGRAM, 0), one = 1;
    if (recverr && family == AF_INET && setsockopt(s, SOL_IP, IP_RECVERR, &one, sizeof one)) fail("IP_RECVERR");
    if (connect(s, (struct sockaddr *)&a, n) || send(s, "x", 1, 0) != 1) fail("connect and send");
    struct pollfd p = {.fd = s};
    for (int i = 0; i < 500 && !(p.revents & POLLERR); i++) { // the ICMP error comes back over lo at once
        poll(&p, 1, 10);
    }
    if (!(p.revents & POLLERR)) fail("no ICMP error");
    return s;
}

static void check_refused(int s)
{
    char c;
    if (recv(s, &c, 1, MSG_DONTWAIT) != -1 || errno != ECONNREFUSED) {
        printf("FAIL: fd %d: a receive did not return ECONNREFUSED (%s)\n", s, strerror(errno));
        exit(1);
    }
    if (recv(s, &c, 1, MSG_DONTWAIT) != -1 || errno != EAGAIN) {
        printf("FAIL: fd %d: a second receive did not return EAGAIN\n", s);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    recverr = argc > 1 && !strcmp(argv[1], "recverr");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int v4 = refused(AF_INET, 0), v6 = refused(AF_INET6, 0), mapped = refused(AF_INET6, 1);
    printf("ready\n");
    while (!check) pause();
    check_refused(v4);
    check_refused(v6);
    check_refused(mapped);
    printf("PASS\n");
    return 0;
}
