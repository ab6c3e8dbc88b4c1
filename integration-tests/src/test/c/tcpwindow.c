/*
 * A loopback TCP connection, both ends in the tree, whose receiver does not read: the sender
 * writes a numbered byte pattern until the receiver's window is closed and its own send queue is
 * full (sent but unacknowledged, and never sent). After the restore the receiver must read exactly
 * what was written, byte for byte and in order, and the sender then write again.
 * Prints "ready", on SIGUSR2 checks and prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdio.h>

#include "tcppeer.h"

static unsigned char pattern(long i) {
    return (unsigned char)(i * 31 + (i >> 8) * 7 + (i >> 16));
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    struct sockaddr_in a;
    int l = listen_loopback(&a, 1), s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a)) fail("connect");
    int r = accept(l, NULL, NULL);
    if (r < 0) fail("accept");
    fcntl(s, F_SETFL, O_NONBLOCK);
    long written = 0;
    unsigned char chunk[4096];
    for (int idle = 0; idle < 20; ) { /* until nothing more goes in for 200 ms: window closed, queue full */
        for (int i = 0; i < (int)sizeof chunk; i++) chunk[i] = pattern(written + i);
        ssize_t w = send(s, chunk, sizeof chunk, 0);
        if (w > 0) { written += w; idle = 0; continue; }
        if (errno != EAGAIN) fail("send");
        idle++;
        usleep(10000);
    }
    printf("written %ld, receiver window closed\n", written);
    printf("ready\n");
    while (!check) pause();

    long got = 0;
    unsigned char buf[65536];
    fcntl(r, F_SETFL, O_NONBLOCK);
    for (int idle = 0; got < written && idle < 3000; ) {
        ssize_t n = recv(r, buf, sizeof buf, 0);
        if (n > 0) {
            for (ssize_t i = 0; i < n; i++) {
                if (buf[i] != pattern(got + i)) { printf("FAIL: byte %ld is %d, not %d\n", got + i, buf[i], pattern(got + i)); return 1; }
            }
            got += n;
            idle = 0;
        } else if (n == 0) {
            printf("FAIL: end of file after %ld of %ld bytes\n", got, written);
            return 1;
        } else if (errno == EAGAIN) {
            idle++;
            usleep(10000);
        } else {
            fail("recv");
        }
    }
    if (got != written) { printf("FAIL: read %ld of %ld bytes\n", got, written); return 1; }
    if (recv(r, buf, sizeof buf, 0) != -1 || errno != EAGAIN) { printf("FAIL: more than was written\n"); return 1; }
    struct pollfd p = { .fd = s, .events = POLLOUT };
    if (poll(&p, 1, 10000) != 1 || send(s, "after", 5, 0) != 5) fail("the sender cannot write again");
    p = (struct pollfd){ .fd = r, .events = POLLIN };
    if (poll(&p, 1, 10000) != 1 || recv(r, buf, 5, 0) != 5 || memcmp(buf, "after", 5)) fail("the receiver did not get the new bytes");
    printf("PASS\n");
    return 0;
}
