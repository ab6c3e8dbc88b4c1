/*
 * TCP-MD5 signatures (RFC 2385), as a BGP daemon (BIRD, FRR, GoBGP) keeps its sessions: a listener
 * on 127.0.0.1 with a key for 127.0.0.0/8 (TCP_MD5SIG_EXT with a prefix), a client with a key for
 * 127.0.0.1, and the connection between them, whose accepted end took the listener's key. After
 * the restore the connection carries a message each way, and a new client with the key is
 * answered by the listener: a listener that lost its key drops every signed SYN (the kernel's
 * "unexpected MD5 hash"), so the new client would get no answer. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

static void key(int s, const char *addr, int prefix) {
    struct tcp_md5sig m;
    memset(&m, 0, sizeof m);
    struct sockaddr_in *a = (struct sockaddr_in *)&m.tcpm_addr;
    a->sin_family = AF_INET;
    inet_pton(AF_INET, addr, &a->sin_addr);
    m.tcpm_flags = TCP_MD5SIG_FLAG_PREFIX;
    m.tcpm_prefixlen = prefix;
    m.tcpm_keylen = 12;
    memcpy(m.tcpm_key, "cryo-bgp-key", 12);
    if (setsockopt(s, IPPROTO_TCP, TCP_MD5SIG_EXT, &m, sizeof m)) fail("TCP_MD5SIG_EXT");
}

/** Sends msg on from and waits (up to 20 s) to read it on to. */
static void carry(int from, int to, const char *msg) {
    char got[64];
    if (write(from, msg, strlen(msg)) != (ssize_t)strlen(msg)) fail("write");
    struct pollfd p = {.fd = to, .events = POLLIN};
    if (poll(&p, 1, 20000) != 1) {
        printf("FAIL: \"%s\" did not arrive over the signed connection\n", msg);
        exit(1);
    }
    ssize_t n = read(to, got, sizeof got - 1);
    if (n != (ssize_t)strlen(msg) || memcmp(got, msg, n)) fail("a different message arrived");
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int l = socket(AF_INET, SOCK_STREAM, 0);
    socklen_t len = sizeof lo;
    if (l < 0) fail("socket");
    key(l, "127.0.0.0", 8);
    if (bind(l, (struct sockaddr *)&lo, sizeof lo) || listen(l, 4) || getsockname(l, (struct sockaddr *)&lo, &len))
        fail("listen");
    int c = socket(AF_INET, SOCK_STREAM, 0);
    key(c, "127.0.0.1", 32);
    if (connect(c, (struct sockaddr *)&lo, sizeof lo)) fail("connect");
    int a = accept(l, NULL, NULL);
    if (a < 0) fail("accept");
    carry(c, a, "open");
    carry(a, c, "keepalive");
    printf("ready\n");
    while (!check) pause();

    carry(c, a, "update");
    carry(a, c, "update ack");
    int n = socket(AF_INET, SOCK_STREAM, 0);
    key(n, "127.0.0.1", 32);
    fcntl(n, F_SETFL, O_NONBLOCK);
    if (connect(n, (struct sockaddr *)&lo, sizeof lo) == 0 || errno == EINPROGRESS) {
        struct pollfd p = {.fd = n, .events = POLLOUT};
        int err = 0;
        socklen_t el = sizeof err;
        if (poll(&p, 1, 20000) != 1 || getsockopt(n, SOL_SOCKET, SO_ERROR, &err, &el) || err) {
            printf("FAIL: the listener did not answer a signed SYN (its key lost?), error %d\n", err);
            return 1;
        }
    } else {
        fail("connect of the new client");
    }
    printf("PASS\n");
    return 0;
}
