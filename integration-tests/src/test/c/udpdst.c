/*
 * UDP sockets bound to a wildcard address with datagrams unread that were sent to different local
 * addresses: an IPv4 socket on 0.0.0.0 (IP_PKTINFO on) got "two" sent to 127.0.0.2 and "one" to
 * 127.0.0.1; a dual-stack IPv6 socket on [::] (IPV6_RECVPKTINFO on) got "three" sent to 127.0.0.3.
 * The restore gave them back all sent to the loopback address. On SIGUSR2 each must show the
 * address it was sent to. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

static void expect(int s, const char *payload, const char *dst) {
    char buf[64], control[256], why[160], got[INET6_ADDRSTRLEN] = "(none)";
    struct iovec iov = {buf, sizeof buf - 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    ssize_t n = recvmsg(s, &m, MSG_DONTWAIT);
    if (n < 0) fail("recvmsg");
    buf[n] = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            inet_ntop(AF_INET, &((struct in_pktinfo *)CMSG_DATA(c))->ipi_addr, got, sizeof got);
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            inet_ntop(AF_INET6, &((struct in6_pktinfo *)CMSG_DATA(c))->ipi6_addr, got, sizeof got);
        }
    }
    if (strcmp(buf, payload) != 0 || strcmp(got, dst) != 0) {
        snprintf(why, sizeof why, "'%s' sent to %s, not '%s' to %s", buf, got, payload, dst);
        fail(why);
    }
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int one = 1;
    int s4 = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a4 = {.sin_family = AF_INET};
    socklen_t n = sizeof a4;
    if (s4 < 0 || setsockopt(s4, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) || bind(s4, (struct sockaddr *)&a4, sizeof a4)
        || getsockname(s4, (struct sockaddr *)&a4, &n)) fail("IPv4 socket");
    int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
    n = sizeof a6;
    if (s6 < 0 || setsockopt(s6, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one)
        || bind(s6, (struct sockaddr *)&a6, sizeof a6) || getsockname(s6, (struct sockaddr *)&a6, &n)) fail("IPv6 socket");
    int c = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = a4.sin_port};
    inet_pton(AF_INET, "127.0.0.2", &to.sin_addr);
    if (sendto(c, "two", 3, 0, (struct sockaddr *)&to, sizeof to) != 3) fail("send two");
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    if (sendto(c, "one", 3, 0, (struct sockaddr *)&to, sizeof to) != 3) fail("send one");
    to.sin_port = a6.sin6_port;
    inet_pton(AF_INET, "127.0.0.3", &to.sin_addr);
    if (sendto(c, "three", 5, 0, (struct sockaddr *)&to, sizeof to) != 5) fail("send three");
    usleep(100 * 1000);
    printf("ready\n");
    while (!check) pause();
    expect(s4, "two", "127.0.0.2");
    expect(s4, "one", "127.0.0.1");
    expect(s6, "three", "::ffff:127.0.0.3");
    printf("PASS\n");
    return 0;
}
