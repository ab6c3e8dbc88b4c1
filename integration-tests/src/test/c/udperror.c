/*
 * udperror — a connected UDP socket whose datagram met a closed port: the ICMP error waits in the
 * socket (ECONNREFUSED) until the program's next receive or send. A dump and restore lost it
 * without a word: after the restore the receive found nothing (EAGAIN). Prints "ready".
 * On SIGUSR2: a receive returns ECONNREFUSED, then EAGAIN. Prints "PASS" or "FAIL: why".
 */
#define _GNU_SOURCE
#include "workload.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    int closed = socket(AF_INET, SOCK_DGRAM, 0);
    if (bind(closed, (struct sockaddr *)&a, sizeof a) || getsockname(closed, (struct sockaddr *)&a, &n)) fail("bind");
    close(closed); // a port nobody holds now
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (connect(s, (struct sockaddr *)&a, sizeof a) || send(s, "x", 1, 0) != 1) fail("connect and send");
    struct pollfd p = {.fd = s};
    for (int i = 0; i < 500 && !(p.revents & POLLERR); i++) { // the ICMP error comes back over lo at once
        poll(&p, 1, 10);
    }
    if (!(p.revents & POLLERR)) fail("no ICMP error");
    printf("ready\n");
    while (!check) pause();

    char c;
    if (recv(s, &c, 1, MSG_DONTWAIT) != -1 || errno != ECONNREFUSED) fail("a receive did not return ECONNREFUSED");
    if (recv(s, &c, 1, MSG_DONTWAIT) != -1 || errno != EAGAIN) fail("a second receive did not return EAGAIN");
    printf("PASS\n");
    return 0;
}
