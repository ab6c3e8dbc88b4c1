/*
 * Unread unix datagrams keep their sender's name: a receiver bound to an abstract name holds
 * three datagrams, from a sender bound to an abstract name and closed since, from one bound to a
 * path and closed since (its socket file left behind), and from one still open and connected.
 * zdtm's socket_snd_addr found the closed sender's name lost (the datagram came back from an
 * unnamed socket). Argument: a directory for the path. On SIGUSR2 each datagram must come with
 * its sender's name, in order. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "workload.h"

static socklen_t name(struct sockaddr_un *a, const char *s, int abstract) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    if (abstract) {
        strncpy(a->sun_path + 1, s, sizeof a->sun_path - 2);
        return (socklen_t)(sizeof a->sun_family + 1 + strlen(s));
    }
    strncpy(a->sun_path, s, sizeof a->sun_path - 1);
    return (socklen_t)(sizeof a->sun_family + strlen(s) + 1);
}

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: dgramsenders DIR");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    char srvname[64], names[3][200];
    snprintf(srvname, sizeof srvname, "cryo-dgram-srv-%d", getpid());
    snprintf(names[0], sizeof names[0], "cryo-dgram-a-%d", getpid());
    snprintf(names[1], sizeof names[1], "%s/b.sock", argv[1]);
    snprintf(names[2], sizeof names[2], "cryo-dgram-c-%d", getpid());
    struct sockaddr_un srv, a;
    socklen_t srvlen = name(&srv, srvname, 1);
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (s < 0 || bind(s, (struct sockaddr *)&srv, srvlen)) fail("bind the receiver");
    int kept = -1;
    for (int i = 0; i < 3; i++) {
        int c = socket(AF_UNIX, SOCK_DGRAM, 0);
        socklen_t n = name(&a, names[i], i != 1);
        if (c < 0 || bind(c, (struct sockaddr *)&a, n)) fail("bind a sender");
        if (connect(c, (struct sockaddr *)&srv, srvlen)) fail("connect a sender");
        char msg[16];
        snprintf(msg, sizeof msg, "msg%d", i);
        if (send(c, msg, strlen(msg), 0) != (ssize_t)strlen(msg)) fail("send");
        if (i == 2) kept = c;
        else close(c);
    }
    printf("ready\n");
    while (!check) pause();

    for (int i = 0; i < 3; i++) {
        char buf[64], want[16];
        struct sockaddr_un from;
        socklen_t fl = sizeof from;
        memset(&from, 0, sizeof from);
        ssize_t r = recvfrom(s, buf, sizeof buf - 1, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
        snprintf(want, sizeof want, "msg%d", i);
        if (r != (ssize_t)strlen(want) || memcmp(buf, want, r)) fail("a datagram changed or is missing");
        struct sockaddr_un exp;
        socklen_t el = name(&exp, names[i], i != 1);
        if (fl != el || memcmp(&from, &exp, el)) {
            printf("FAIL: datagram %d comes from another sender (name length %d, want %d)\n", i, (int)fl, (int)el);
            return 1;
        }
    }
    if (kept < 0) fail("no kept sender");
    printf("PASS\n");
    return 0;
}
