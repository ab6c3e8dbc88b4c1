/*
 * Two ends of a TCP connection of the tree's own net namespace (run it as init of a new one, lo up), each with
 * megabytes queued to send and paced (SO_MAX_PACING_RATE): the kernel goes on sending them, a segment a
 * millisecond each way, while the tree is frozen. The dump reads one end, then the other; packets that crossed
 * between those reads made the images disagree (zdtm's socket-tcpbuf6-local: bytes acknowledged by an end read
 * before they came, lost at the restore). On SIGUSR2 the pacing is lifted, and each end reads every byte the other
 * wrote, in order (byte i of a stream is i % 251); prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "workload.h"

#define TOTAL (16 << 20)
#define RATE (2 << 20)

static char buf[1 << 16];

static void set(int fd, int level, int name, int value, const char *what) {
    if (setsockopt(fd, level, name, &value, sizeof value) < 0) fail(what);
}

/* Queues the TOTAL bytes of stream {@code fd} sends, non-blocking; the send buffer holds them all. */
static void queue(int fd) {
    long done = 0;
    while (done < TOTAL) {
        int n = TOTAL - done < (long)sizeof buf ? (int)(TOTAL - done) : (int)sizeof buf;
        for (int i = 0; i < n; i++) buf[i] = (char)((done + i) % 251);
        ssize_t w = write(fd, buf, n);
        if (w <= 0) fail("the send buffer did not take every byte");
        done += w;
    }
}

/* Reads from each end until both have the other's TOTAL bytes, checking each byte; 0 on success. */
static int drain(int a, int b) {
    long got[2] = {0, 0};
    int fds[2] = {a, b};
    while (got[0] < TOTAL || got[1] < TOTAL) {
        struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
        if (poll(p, 2, 20000) <= 0) {
            printf("FAIL: after 20 s without data one end has %ld of %d bytes, the other %ld\n", got[0], TOTAL, got[1]);
            return 1;
        }
        for (int k = 0; k < 2; k++) {
            if (!(p[k].revents & POLLIN)) continue;
            ssize_t n = read(fds[k], buf, sizeof buf);
            if (n <= 0) fail("read");
            for (ssize_t i = 0; i < n; i++) {
                if (buf[i] != (char)((got[k] + i) % 251)) {
                    printf("FAIL: end %d: byte %ld of the stream is not the one written there\n", k, got[k] + i);
                    return 1;
                }
            }
            got[k] += n;
        }
    }
    return 0;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int l = socket(AF_INET, SOCK_STREAM, 0), a = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0 || a < 0) fail("socket");
    /* buffers for every byte, set before the handshake (its window scale), and segments of 4 KiB: a few a ms */
    for (int fd = l; fd >= 0; fd = fd == l ? a : -1) {
        set(fd, SOL_SOCKET, SO_SNDBUFFORCE, 4 * TOTAL, "SO_SNDBUFFORCE");
        set(fd, SOL_SOCKET, SO_RCVBUFFORCE, 4 * TOTAL, "SO_RCVBUFFORCE");
        set(fd, IPPROTO_TCP, TCP_MAXSEG, 4096, "TCP_MAXSEG");
    }
    struct sockaddr_in at = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof at;
    if (bind(l, (struct sockaddr *)&at, sizeof at) || listen(l, 1) || getsockname(l, (struct sockaddr *)&at, &len))
        fail("listen");
    if (connect(a, (struct sockaddr *)&at, sizeof at)) fail("connect");
    int b = accept(l, NULL, NULL);
    if (b < 0) fail("accept");
    close(l);
    for (int fd = a; fd >= 0; fd = fd == a ? b : -1) {
        set(fd, SOL_SOCKET, SO_MAX_PACING_RATE, RATE, "SO_MAX_PACING_RATE");
        if (fcntl(fd, F_SETFL, O_NONBLOCK)) fail("O_NONBLOCK");
        queue(fd);
    }
    printf("ready\n");
    while (!check) pause();
    set(a, SOL_SOCKET, SO_MAX_PACING_RATE, ~0U, "SO_MAX_PACING_RATE");
    set(b, SOL_SOCKET, SO_MAX_PACING_RATE, ~0U, "SO_MAX_PACING_RATE");
    if (drain(a, b)) return 1;
    printf("PASS\n");
    return 0;
}
