/*
 * Socket pairs whose other end was closed with bytes still unread: a stream, a seqpacket and a
 * datagram pair, each written to from end 1, which is then closed. On SIGUSR2 end 0 must read
 * the bytes, then (stream, seqpacket) end of file. zdtm's sockets02 found it: the dump passed and
 * the restore failed ("unread datagrams at an unnamed socket"). Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

static int orphan(int type, const char *msg) {
    int sv[2];
    if (socketpair(AF_UNIX, type, 0, sv)) fail("socketpair");
    if (write(sv[1], msg, strlen(msg)) != (ssize_t)strlen(msg)) fail("write");
    close(sv[1]);
    return sv[0];
}

static void expect(int fd, const char *msg, int eof, const char *what) {
    char buf[64] = {0};
    ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    if (n != (ssize_t)strlen(msg) || memcmp(buf, msg, n)) { printf("FAIL: %s read %zd '%s'\n", what, n, buf); exit(1); }
    if (eof) {
        n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n != 0) { printf("FAIL: %s after the bytes: %zd (errno %d), not end of file\n", what, n, errno); exit(1); }
    }
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int st = orphan(SOCK_STREAM, "stream bytes");
    int sp = orphan(SOCK_SEQPACKET, "seqpacket");
    int dg = orphan(SOCK_DGRAM, "datagram");
    printf("ready\n");
    while (!check) pause();
    expect(st, "stream bytes", 1, "stream");
    expect(sp, "seqpacket", 1, "seqpacket");
    expect(dg, "datagram", 0, "datagram");
    printf("PASS\n");
    return 0;
}
