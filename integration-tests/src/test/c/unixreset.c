/*
 * unixreset — a unix stream socket whose peer closed with a byte it had not read: the kernel leaves
 * the socket ECONNRESET, returned by the program's next receive. A dump failed with
 * "recvmsg(fd N, 4194304 bytes): ECONNRESET" after its look at the queue had taken that error from
 * the program, which then read an end (0) instead. Prints "ready".
 * On SIGUSR2: a receive returns ECONNRESET, then the end. Prints "PASS" or "FAIL: why".
 */
#define _GNU_SOURCE
#include "workload.h"
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int sk[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sk) || write(sk[0], "x", 1) != 1) fail("socketpair");
    close(sk[1]); // with "x" unread
    struct pollfd p = {.fd = sk[0]};
    if (poll(&p, 1, 0) != 1 || !(p.revents & POLLERR)) fail("no error after the peer's close");
    printf("ready\n");
    while (!check) pause();

    char c;
    if (recv(sk[0], &c, 1, MSG_DONTWAIT) != -1 || errno != ECONNRESET) fail("a receive did not return ECONNRESET");
    if (recv(sk[0], &c, 1, MSG_DONTWAIT) != 0) fail("a second receive did not return the end");
    printf("PASS\n");
    return 0;
}
