/*
 * packetdown — a cooked packet socket bound to lo while lo is down (a net namespace of its own,
 * lo never brought up), as zdtm's packet_sock binds it in zdtm's namespaces: the bind leaves the
 * socket an error (ENETDOWN) that the program has not read. zdtm's packet_sock found the dump
 * refused with "recv(fd N, 1 bytes): errno 100", having taken that error from the program while
 * looking for unread packets. Started as `unshare -n packetdown`; prints "ready".
 * On SIGUSR2: the error is still pending (poll's POLLERR), a receive returns ENETDOWN, and then
 * nothing is pending. Prints "PASS" or "FAIL: why".
 */
#define _GNU_SOURCE
#include "workload.h"
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

static int pending(int s)
{
    struct pollfd p = {.fd = s};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLERR);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int s = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP));
    struct sockaddr_ll a = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = 1};
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a)) fail("packet socket bound to lo");
    if (!pending(s)) fail("no error after a bind to a down lo");
    printf("ready\n");
    while (!check) pause();

    char c;
    if (!pending(s)) fail("the error is gone");
    if (recv(s, &c, 1, MSG_DONTWAIT) != -1 || errno != ENETDOWN) fail("a receive did not return ENETDOWN");
    if (pending(s)) fail("an error still pending after it was read");
    printf("PASS\n");
    return 0;
}
