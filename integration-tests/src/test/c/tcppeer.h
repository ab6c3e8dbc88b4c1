/*
 * What the TCP-state workloads share: a data and a control connection on 127.0.0.1 to a peer outside
 * the tree (a detached grandchild in its own session, so the dump does not take it), the state of a
 * connection, and filling a connection's send queue.
 */
#ifndef CRYO_TCPPEER_H
#define CRYO_TCPPEER_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

__attribute__((unused)) static int tcp_state(int s) {
    struct tcp_info i;
    socklen_t n = sizeof i;
    return getsockopt(s, IPPROTO_TCP, TCP_INFO, &i, &n) ? -1 : i.tcpi_state;
}

/** Waits up to 5 s for connection s to reach state; true if it did. */
__attribute__((unused)) static int await_tcp_state(int s, int state) {
    for (int i = 0; i < 500 && tcp_state(s) != state; i++) usleep(10000);
    return tcp_state(s) == state;
}

/** A TCP listener on 127.0.0.1 at a port the kernel picks, its address in *a. */
__attribute__((unused)) static int listen_loopback(struct sockaddr_in *a, int backlog) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    *a = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof *a;
    if (l < 0 || bind(l, (struct sockaddr *)a, sizeof *a) || listen(l, backlog) || getsockname(l, (struct sockaddr *)a, &n))
        fail("listen");
    return l;
}

/** Connects *d and *c (accepted in that order) to peer(port), run by a detached grandchild. */
__attribute__((unused)) static void connect_peer(void (*peer)(int port), int *d, int *c) {
    struct sockaddr_in a;
    int l = listen_loopback(&a, 2);
    pid_t child = fork();
    if (child == 0) {
        if (fork() == 0) {
            setsid();
            alarm(120);
            peer(ntohs(a.sin_port));
        }
        _exit(0);
    }
    waitpid(child, NULL, 0);
    *d = accept(l, NULL, NULL);
    *c = accept(l, NULL, NULL);
    if (*d < 0 || *c < 0) fail("accept");
    close(l);
}

/** Writes into s until its send queue and the peer's window are full; returns the bytes written. */
__attribute__((unused)) static long fill_send_queue(int s) {
    long written = 0;
    fcntl(s, F_SETFL, O_NONBLOCK);
    char chunk[4096];
    memset(chunk, 'z', sizeof chunk);
    ssize_t w;
    while ((w = write(s, chunk, sizeof chunk)) > 0) written += w;
    if (errno != EAGAIN) fail("fill");
    fcntl(s, F_SETFL, 0);
    return written;
}

#endif
