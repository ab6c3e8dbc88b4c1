/*
 * A TCP connection whose peer (outside the tree: a detached grandchild in its own session) sent
 * some bytes and then its FIN, which the tree has not read: "close_wait" leaves it so
 * (CLOSE_WAIT); "last_ack" then fills the peer's window, which reads nothing until told, and shuts
 * down too, so the tree's FIN waits behind unsent bytes (LAST_ACK). zdtm's socket-tcp-close-wait
 * and socket-tcp-last-ack found both refused. A second connection carries control.
 * On SIGUSR2: still in that state (LAST_ACK may have moved on if the FIN went out), the peer's
 * bytes then the end of the stream are read, close_wait can still send and shuts down; the peer
 * then reads everything to the FIN and reports the count, which must be what was written.
 * Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>

#include "tcppeer.h"

#define HELLO "bytes before the FIN"

static void peer(int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int d = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(d, SOL_SOCKET, SO_RCVBUF, &small, sizeof small); /* a window the tree fills quickly */
    if (connect(d, (struct sockaddr *)&a, sizeof a) || connect(c, (struct sockaddr *)&a, sizeof a)) _exit(1);
    if (write(d, HELLO, sizeof HELLO) != sizeof HELLO || shutdown(d, SHUT_WR)) _exit(1);
    char buf[65536];
    while (read(c, buf, sizeof buf) > 0) {} /* until the tree shuts the control connection */
    long total = 0;
    ssize_t r;
    while ((r = read(d, buf, sizeof buf)) > 0) total += r;
    if (r < 0) total = -1;
    write(c, &total, sizeof total);
    _exit(0);
}

int main(int argc, char **argv) {
    int last_ack = argc > 1 && !strcmp(argv[1], "last_ack");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    signal(SIGPIPE, SIG_IGN);
    int d, c;
    connect_peer(peer, &d, &c);
    if (!await_tcp_state(d, TCP_CLOSE_WAIT)) fail("the peer's FIN did not arrive");
    long written = 0;
    if (last_ack) {
        written = fill_send_queue(d);
        if (shutdown(d, SHUT_WR)) fail("shutdown");
        if (!await_tcp_state(d, TCP_LAST_ACK)) fail("not in LAST_ACK before the dump");
    }
    printf("ready\n");
    while (!check) pause();

    int now = tcp_state(d), want = last_ack ? TCP_LAST_ACK : TCP_CLOSE_WAIT;
    if (now != want) {
        printf("FAIL: the connection is in state %d, not %d\n", now, want);
        return 1;
    }
    char buf[64] = {0};
    if (read(d, buf, sizeof buf) != sizeof HELLO || memcmp(buf, HELLO, sizeof HELLO)) fail("the peer's bytes are gone");
    if (read(d, buf, sizeof buf) != 0) fail("no end of stream after the peer's bytes");
    if (last_ack) {
        if (send(d, "x", 1, MSG_DONTWAIT) >= 0 || errno != EPIPE) fail("the connection can send again");
    } else {
        if (write(d, "after", 5) != 5) fail("cannot send after the restore");
        written += 5;
        if (shutdown(d, SHUT_WR)) fail("shutdown after the restore");
    }
    if (shutdown(c, SHUT_WR)) fail("shutdown control");
    long got = 0;
    if (read(c, &got, sizeof got) != sizeof got) fail("no count from the peer");
    if (got != written) {
        printf("FAIL: wrote %ld bytes, the peer read %ld\n", written, got);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
