/*
 * AF_VSOCK sockets as a guest agent or sshd under systemd's vsock socket units hold them: a stream
 * listener on VMADDR_CID_ANY:PORT (backlog 7) with buffer sizes of its own, a socket bound on PORT+1
 * that does not listen, one never bound, and a seqpacket listener on PORT+2 (backlog 3). On SIGUSR2 checks each has its name, type, listening
 * state and buffer sizes; that the listener holds its port (another bind on it: EADDRINUSE) and
 * accepts (nothing pending: EAGAIN; with vsock_loopback, a connection from VMADDR_CID_LOCAL).
 * Usage: vsocklisten PORT. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

#ifndef VMADDR_CID_LOCAL
#define VMADDR_CID_LOCAL 1
#endif

static void expect_name(int fd, unsigned cid, unsigned port, const char *what) {
    struct sockaddr_vm a;
    socklen_t l = sizeof a;
    char why[160];
    memset(&a, 0, sizeof a);
    if (getsockname(fd, (struct sockaddr *)&a, &l)) fail("getsockname");
    if (a.svm_family != AF_VSOCK || a.svm_cid != cid || a.svm_port != port) {
        snprintf(why, sizeof why, "%s: named family %d cid %u port %u, expected cid %u port %u", what, a.svm_family,
                 a.svm_cid, a.svm_port, cid, port);
        fail(why);
    }
}

static int opt(int fd, int level, int name) {
    int v = -1;
    socklen_t l = sizeof v;
    if (getsockopt(fd, level, name, &v, &l)) fail("getsockopt");
    return v;
}

static uint64_t buffer(int fd, int name) {
    uint64_t v = 0;
    socklen_t l = sizeof v;
    if (getsockopt(fd, AF_VSOCK, name, &v, &l)) fail("getsockopt SO_VM_SOCKETS_BUFFER_*");
    return v;
}

static void expect(int fd, int type, int listening, const char *what) {
    char why[160];
    if (opt(fd, SOL_SOCKET, SO_DOMAIN) != AF_VSOCK || opt(fd, SOL_SOCKET, SO_TYPE) != type) {
        snprintf(why, sizeof why, "%s: not an AF_VSOCK socket of type %d", what, type);
        fail(why);
    }
    if (opt(fd, SOL_SOCKET, SO_ACCEPTCONN) != listening) {
        snprintf(why, sizeof why, "%s: SO_ACCEPTCONN %d, expected %d", what, !listening, listening);
        fail(why);
    }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2) fail("usage: vsocklisten PORT");
    unsigned port = (unsigned)atoi(argv[1]);
    int l = socket(AF_VSOCK, SOCK_STREAM, 0), b = socket(AF_VSOCK, SOCK_STREAM, 0), u = socket(AF_VSOCK, SOCK_STREAM, 0),
        q = socket(AF_VSOCK, SOCK_SEQPACKET, 0);
    if (l < 0 || b < 0 || u < 0 || q < 0) fail("socket(AF_VSOCK)");
    uint64_t max = 131072, min = 4096, size = 65536;
    if (setsockopt(l, AF_VSOCK, SO_VM_SOCKETS_BUFFER_MAX_SIZE, &max, sizeof max)
        || setsockopt(l, AF_VSOCK, SO_VM_SOCKETS_BUFFER_MIN_SIZE, &min, sizeof min)
        || setsockopt(l, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &size, sizeof size)) fail("set the buffer sizes");
    struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port };
    if (bind(l, (struct sockaddr *)&a, sizeof a)) fail("bind the listener");
    if (listen(l, 7)) fail("listen");
    a.svm_port = port + 1;
    if (bind(b, (struct sockaddr *)&a, sizeof a)) fail("bind the second socket");
    a.svm_port = port + 2;
    if (bind(q, (struct sockaddr *)&a, sizeof a) || listen(q, 3)) fail("the seqpacket listener");
    printf("ready\n");
    while (!check) pause();

    expect(l, SOCK_STREAM, 1, "listener");
    expect_name(l, VMADDR_CID_ANY, port, "listener");
    if (buffer(l, SO_VM_SOCKETS_BUFFER_SIZE) != size || buffer(l, SO_VM_SOCKETS_BUFFER_MIN_SIZE) != min
        || buffer(l, SO_VM_SOCKETS_BUFFER_MAX_SIZE) != max) fail("the listener's buffer sizes changed");
    expect(b, SOCK_STREAM, 0, "bound socket");
    expect_name(b, VMADDR_CID_ANY, port + 1, "bound socket");
    expect(u, SOCK_STREAM, 0, "unbound socket");
    expect_name(u, VMADDR_CID_ANY, VMADDR_PORT_ANY, "unbound socket");
    expect(q, SOCK_SEQPACKET, 1, "seqpacket listener");
    expect_name(q, VMADDR_CID_ANY, port + 2, "seqpacket listener");
    int other = socket(AF_VSOCK, SOCK_STREAM, 0);
    a.svm_port = port;
    if (bind(other, (struct sockaddr *)&a, sizeof a) == 0 || errno != EADDRINUSE) fail("the listener's port is free");
    close(other);
    fcntl(l, F_SETFL, O_NONBLOCK);
    if (accept(l, NULL, NULL) >= 0 || errno != EAGAIN) fail("accept on the listener");
    if (access("/sys/module/vsock_loopback", F_OK) == 0) { /* a connection through the host's own transport */
        int c = socket(AF_VSOCK, SOCK_STREAM, 0);
        struct sockaddr_vm to = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_LOCAL, .svm_port = port };
        if (connect(c, (struct sockaddr *)&to, sizeof to)) fail("connect to the listener through vsock_loopback");
        fcntl(l, F_SETFL, 0);
        int s = accept(l, NULL, NULL);
        if (s < 0 || write(c, "hi", 2) != 2) fail("accept the connection");
        char buf[2];
        if (read(s, buf, 2) != 2 || memcmp(buf, "hi", 2)) fail("read through the accepted connection");
        printf("connected through vsock_loopback\n");
    }
    printf("PASS\n");
    return 0;
}
