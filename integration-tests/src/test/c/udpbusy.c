/*
 * A UDP server that clients keep sending to while it is restored (argv[1]: its port on 127.0.0.1),
 * with three datagrams unread at the dump ("one", "two", "three") and 150 other sockets on the
 * next ports (the test picks all 151 below the ephemeral range, where nothing of the host is given
 * them between the killing dump and the restore), which the restore rebuilds between binding the server's socket and queuing its datagrams again.
 * The restore failed ("4 of its 3 unread datagrams could be queued again") when a client's
 * datagram arrived in between. On SIGUSR2 (the test's clients have stopped) the three must be
 * there, in order, among whatever the clients sent. Prints PASS or FAIL: reason.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2) fail("usage: udpbusy PORT");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1])),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a)) fail("bind");
    for (int i = 0; i < 150; i++) { /* rebuilt by the restore after the server's socket */
        struct sockaddr_in next = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]) + 1 + i),
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int o = socket(AF_INET, SOCK_DGRAM, 0);
        if (o < 0 || bind(o, (struct sockaddr *)&next, sizeof next)) fail("other sockets");
    }
    int c = socket(AF_INET, SOCK_DGRAM, 0);
    const char *msgs[] = {"one", "two", "three"};
    for (int i = 0; i < 3; i++) {
        if (sendto(c, msgs[i], strlen(msgs[i]), 0, (struct sockaddr *)&a, sizeof a) < 0) fail("sendto");
    }
    printf("ready\n");
    while (!check) pause();
    int next = 0;
    char buf[512];
    ssize_t n;
    while (next < 3 && (n = recv(s, buf, sizeof buf - 1, MSG_DONTWAIT)) >= 0) {
        buf[n] = 0;
        if (strcmp(buf, msgs[next]) == 0) {
            next++;
        } else if (strcmp(buf, "live") != 0) {
            printf("FAIL: datagram '%s' where '%s' was due\n", buf, msgs[next]);
            return 1;
        }
    }
    if (next < 3) {
        printf("FAIL: '%s' is missing\n", msgs[next]);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
