/*
 * A SO_REUSEPORT group of three UDP sockets with no program, each holding unread datagrams the
 * kernel's hash gave it (24 from 24 sources). The restore queues each member's datagrams again by
 * sending them from their sources, and the group spread them by its hash over the members bound
 * so far: the restore failed ("6 of its 7 unread datagrams could be queued again") after the
 * killing dump. Before "ready" it lists each member's queue by peeking (SO_PEEK_OFF, then off
 * again); on SIGUSR2 each member must hold exactly its own, in order. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

#define MEMBERS 3
#define SOURCES 24

static char held[MEMBERS][SOURCES * 4 + 1];

/* The member's datagrams, concatenated: peeked (at an advancing offset) or read. */
static void list(int s, int peek, char *out) {
    char b[8];
    int n, on = 0, off = -1;
    out[0] = 0;
    if (peek && setsockopt(s, SOL_SOCKET, SO_PEEK_OFF, &on, sizeof on)) fail("SO_PEEK_OFF");
    while ((n = recv(s, b, sizeof b - 1, MSG_DONTWAIT | (peek ? MSG_PEEK : 0))) > 0) {
        b[n] = 0;
        strcat(out, b);
    }
    if (peek && setsockopt(s, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off)) fail("SO_PEEK_OFF off");
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int one = 1, port = 0, m[MEMBERS];
    for (int i = 0; i < MEMBERS; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        m[i] = socket(AF_INET, SOCK_DGRAM, 0);
        if (m[i] < 0 || setsockopt(m[i], SOL_SOCKET, SO_REUSEPORT, &one, sizeof one)) fail("SO_REUSEPORT");
        if (bind(m[i], (struct sockaddr *)&a, sizeof a) || getsockname(m[i], (struct sockaddr *)&a, &len)) fail("bind");
        port = ntohs(a.sin_port);
    }
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int k = 0; k < SOURCES; k++) {
        char msg[8];
        int c = socket(AF_INET, SOCK_DGRAM, 0);
        snprintf(msg, sizeof msg, "%c%02d|", 'a' + k % 26, k);
        if (c < 0 || sendto(c, msg, strlen(msg), 0, (struct sockaddr *)&to, sizeof to) < 0) fail("sendto");
        close(c);
    }
    int spread = 0;
    for (int i = 0; i < MEMBERS; i++) {
        list(m[i], 1, held[i]);
        spread += held[i][0] != 0;
    }
    if (spread < 2) fail("the hash gave every datagram to one member"); /* 3 * (1/3)^24: never */
    printf("ready\n");
    while (!check) pause();
    for (int i = 0; i < MEMBERS; i++) {
        char now[SOURCES * 4 + 1];
        list(m[i], 0, now);
        if (strcmp(now, held[i])) {
            printf("FAIL: member %d holds '%s', not '%s'\n", i, now, held[i]);
            return 1;
        }
    }
    printf("PASS\n");
    return 0;
}
