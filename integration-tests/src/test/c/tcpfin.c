/*
 * A TCP connection shut for writing, its peer outside the tree (a detached grandchild in its own
 * session that reads nothing until told): "wait1" fills the send queue before the shutdown, so the
 * FIN waits behind unsent bytes (FIN_WAIT1); "wait2" sends a few bytes, the peer acknowledges the
 * FIN (FIN_WAIT2). zdtm's socket-tcp-fin-wait1/2 found both refused. A second connection carries
 * control. On SIGUSR2: still shut (send fails with EPIPE), the control connection is shut, the peer
 * then reads everything to the FIN and reports the count, which must be what was written; the
 * peer's "bye" arrives. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>

#include "tcppeer.h"

static void peer(int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int d = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(d, (struct sockaddr *)&a, sizeof a) || connect(c, (struct sockaddr *)&a, sizeof a)) _exit(1);
    char buf[65536];
    while (read(c, buf, sizeof buf) > 0) {} /* until the tree shuts the control connection */
    long total = 0;
    ssize_t r;
    while ((r = read(d, buf, sizeof buf)) > 0) total += r;
    if (r < 0) total = -1;
    write(d, "bye", 3);
    write(c, &total, sizeof total);
    _exit(0);
}

int main(int argc, char **argv) {
    int wait2 = argc > 1 && !strcmp(argv[1], "wait2");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    signal(SIGPIPE, SIG_IGN);
    int d, c;
    connect_peer(peer, &d, &c);
    long written = 0;
    if (wait2) {
        if (write(d, "hello", 5) != 5) fail("write");
        written = 5;
    } else {
        written = fill_send_queue(d);
    }
    if (shutdown(d, SHUT_WR)) fail("shutdown");
    if (!await_tcp_state(d, wait2 ? TCP_FIN_WAIT2 : TCP_FIN_WAIT1)) fail("not in the expected state before the dump");
    printf("ready\n");
    while (!check) pause();

    int now = tcp_state(d); /* the FIN sent again may not be acknowledged yet */
    if (now != TCP_FIN_WAIT1 && now != TCP_FIN_WAIT2) {
        printf("FAIL: the connection is in state %d, not FIN_WAIT1/2\n", now);
        return 1;
    }
    if (send(d, "x", 1, MSG_DONTWAIT) >= 0 || errno != EPIPE) fail("the connection can send again");
    if (shutdown(c, SHUT_WR)) fail("shutdown control");
    long got = 0;
    if (read(c, &got, sizeof got) != sizeof got) fail("no count from the peer");
    if (got != written) {
        printf("FAIL: wrote %ld bytes, the peer read %ld\n", written, got);
        return 1;
    }
    char bye[4] = {0};
    if (read(d, bye, 3) != 3 || memcmp(bye, "bye", 3)) fail("no bye from the peer");
    printf("PASS\n");
    return 0;
}
