/*
 * Two sockets of the obsolete type SOCK_PACKET receiving every protocol (ETH_P_ALL), one bound to
 * lo by name, one not bound (zdtm's packet_sock_spkt): the dump refused them. On SIGUSR2:
 * getsockname names lo and no interface, and both catch a UDP datagram sent over lo after the
 * restore (the tree has a net namespace of its own with lo up: nothing else goes by).
 * Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

static const char MARK[] = "cryo-spkt-mark";

static void named(int s, const char *dev, const char *what) {
    struct sockaddr a;
    socklen_t len = sizeof a;
    memset(&a, 0, sizeof a);
    if (getsockname(s, &a, &len) || a.sa_family != AF_PACKET) fail("getsockname");
    if (strcmp(a.sa_data, dev)) {
        printf("FAIL: %s is bound to '%s', not '%s'\n", what, a.sa_data, dev);
        exit(1);
    }
}

/* Whether a frame carrying MARK reaches s (other frames are skipped; poll waits for each). */
static int catches(int s) {
    char frame[2048];
    for (int i = 0; i < 64; i++) {
        struct pollfd p = {.fd = s, .events = POLLIN};
        if (poll(&p, 1, 10000) != 1) return 0;
        ssize_t n = recv(s, frame, sizeof frame, 0);
        if (n > 0 && memmem(frame, n, MARK, sizeof MARK - 1)) return 1;
    }
    return 0;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int bound = socket(AF_PACKET, SOCK_PACKET, htons(ETH_P_ALL));
    struct sockaddr lo = {.sa_family = AF_PACKET};
    strcpy(lo.sa_data, "lo");
    if (bound < 0 || bind(bound, &lo, sizeof lo)) fail("SOCK_PACKET bound to lo");
    int any = socket(AF_PACKET, SOCK_PACKET, htons(ETH_P_ALL));
    if (any < 0) fail("SOCK_PACKET");
    printf("ready\n");
    while (!check) pause();
    named(bound, "lo", "the bound socket");
    named(any, "", "the unbound socket");
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (u < 0 || sendto(u, MARK, sizeof MARK - 1, 0, (struct sockaddr *)&to, sizeof to) < 0) fail("sendto");
    if (!catches(bound)) fail("the bound socket does not catch the datagram");
    if (!catches(any)) fail("the unbound socket does not catch the datagram");
    printf("PASS\n");
    return 0;
}
