/*
 * UDP-Lite sockets (RFC 3828, IPPROTO_UDPLITE) as a media streamer uses them: a receiver bound on
 * 127.0.0.1 that checks only the first 20 bytes of what it gets (UDPLITE_RECV_CSCOV), a sender
 * connected to it that covers 24 (UDPLITE_SEND_CSCOV; less, the receiver would drop them), an IPv6 one bound on ::1, and one never bound.
 * On SIGUSR2 checks each is UDP-Lite still (SO_PROTOCOL), with its names and coverage, and that
 * datagrams go between them with the right senders. zdtm's socket_udplite was refused at dump time.
 * Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif
#define SOL_UDPLITE 136
#define UDPLITE_SEND_CSCOV 10
#define UDPLITE_RECV_CSCOV 11

struct sock { int fd; struct sockaddr_storage name, peer; socklen_t nlen, plen; int send, recv; };

static void remember(struct sock *s) {
    socklen_t l = sizeof s->name;
    s->nlen = sizeof s->name;
    s->plen = sizeof s->peer;
    if (getsockname(s->fd, (struct sockaddr *)&s->name, &s->nlen)) fail("getsockname");
    if (getpeername(s->fd, (struct sockaddr *)&s->peer, &s->plen)) s->plen = 0;
    if (getsockopt(s->fd, SOL_UDPLITE, UDPLITE_SEND_CSCOV, &s->send, &l)) fail("UDPLITE_SEND_CSCOV");
    l = sizeof s->recv;
    if (getsockopt(s->fd, SOL_UDPLITE, UDPLITE_RECV_CSCOV, &s->recv, &l)) fail("UDPLITE_RECV_CSCOV");
}

static void same(const struct sock *s, const char *what) {
    struct sock now = { .fd = s->fd };
    int proto = 0;
    socklen_t l = sizeof proto;
    char why[128];
    if (getsockopt(s->fd, SOL_SOCKET, SO_PROTOCOL, &proto, &l) || proto != IPPROTO_UDPLITE) {
        snprintf(why, sizeof why, "%s: protocol %d, not UDP-Lite", what, proto);
        fail(why);
    }
    remember(&now);
    if (now.nlen != s->nlen || memcmp(&now.name, &s->name, s->nlen)) { snprintf(why, sizeof why, "%s: its name changed", what); fail(why); }
    if (now.plen != s->plen || memcmp(&now.peer, &s->peer, s->plen)) { snprintf(why, sizeof why, "%s: its peer changed", what); fail(why); }
    if (now.send != s->send || now.recv != s->recv) {
        snprintf(why, sizeof why, "%s: coverage send %d recv %d, expected %d %d", what, now.send, now.recv, s->send, s->recv);
        fail(why);
    }
}

static int lite(int family) {
    int fd = socket(family, SOCK_DGRAM, IPPROTO_UDPLITE);
    if (fd < 0) fail("socket(IPPROTO_UDPLITE)");
    return fd;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    struct sock rx = { .fd = lite(AF_INET) }, tx = { .fd = lite(AF_INET) }, six = { .fd = lite(AF_INET6) },
                fresh = { .fd = lite(AF_INET) };
    struct sockaddr_in lo = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    struct sockaddr_in6 lo6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    int cov = 20;
    if (setsockopt(rx.fd, SOL_UDPLITE, UDPLITE_RECV_CSCOV, &cov, sizeof cov)) fail("set UDPLITE_RECV_CSCOV");
    cov = 24;
    if (setsockopt(tx.fd, SOL_UDPLITE, UDPLITE_SEND_CSCOV, &cov, sizeof cov)) fail("set UDPLITE_SEND_CSCOV");
    if (bind(rx.fd, (struct sockaddr *)&lo, sizeof lo)) fail("bind the receiver");
    remember(&rx);
    if (connect(tx.fd, (struct sockaddr *)&rx.name, rx.nlen)) fail("connect the sender");
    if (bind(six.fd, (struct sockaddr *)&lo6, sizeof lo6)) fail("bind the IPv6 socket");
    remember(&tx);
    remember(&six);
    remember(&fresh);
    printf("ready\n");
    while (!check) pause();

    same(&rx, "receiver");
    same(&tx, "sender");
    same(&six, "IPv6 socket");
    same(&fresh, "fresh socket");
    char msg[32] = "a datagram of thirty-two bytes.", buf[64];
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    if (send(tx.fd, msg, sizeof msg, 0) != sizeof msg) fail("send to the receiver");
    if (recvfrom(rx.fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl) != sizeof msg
        || memcmp(buf, msg, sizeof msg)) fail("the receiver did not get it");
    if (fl != tx.nlen || memcmp(&from, &tx.name, fl)) fail("it came from another address than the sender's");
    if (sendto(rx.fd, "back", 4, 0, (struct sockaddr *)&tx.name, tx.nlen) != 4) fail("send back");
    if (recv(tx.fd, buf, sizeof buf, MSG_DONTWAIT) != 4 || memcmp(buf, "back", 4)) fail("the sender did not get the answer");
    if (sendto(six.fd, "six", 3, 0, (struct sockaddr *)&six.name, six.nlen) != 3) fail("IPv6 send");
    if (recv(six.fd, buf, sizeof buf, MSG_DONTWAIT) != 3 || memcmp(buf, "six", 3)) fail("IPv6 receive");
    printf("PASS\n");
    return 0;
}
