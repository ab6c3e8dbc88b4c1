/*
 * netlinkoverrun — a netlink socket listening to a multicast group (NETLINK_USERSOCK group 1) with a
 * small receive buffer, sent more than it holds: the kernel drops the rest and leaves the socket
 * ENOBUFS, returned by the program's next receive (a monitor that fell behind resyncs on it). A dump
 * failed with "recv(fd N, 16 bytes): ENOBUFS" after its look at the queue had taken that error from
 * the program, which read a message instead. Prints "ready".
 * On SIGUSR2: a receive returns ENOBUFS, then the messages kept. Prints "PASS" or "FAIL: why".
 */
#define _GNU_SOURCE
#include "workload.h"
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int a = socket(AF_NETLINK, SOCK_RAW, NETLINK_USERSOCK), b = socket(AF_NETLINK, SOCK_RAW, NETLINK_USERSOCK), rcv = 1024;
    struct sockaddr_nl group = {.nl_family = AF_NETLINK, .nl_groups = 1};
    struct {
        struct nlmsghdr h;
        char data[64];
    } m = {.h = {.nlmsg_len = sizeof m, .nlmsg_type = 0x10}};
    if (a < 0 || b < 0 || setsockopt(a, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv)
            || bind(a, (struct sockaddr *)&group, sizeof group)) fail("netlink sockets");
    for (int i = 0; i < 200; i++) sendto(b, &m, sizeof m, 0, (struct sockaddr *)&group, sizeof group);
    struct pollfd p = {.fd = a};
    if (poll(&p, 1, 0) != 1 || !(p.revents & POLLERR)) fail("no overrun");
    printf("ready\n");
    while (!check) pause();

    char buf[8192];
    if (recv(a, buf, sizeof buf, MSG_DONTWAIT) != -1 || errno != ENOBUFS) fail("a receive did not return ENOBUFS");
    if (recv(a, buf, sizeof buf, MSG_DONTWAIT) != sizeof m) fail("no message kept after the error");
    printf("PASS\n");
    return 0;
}
