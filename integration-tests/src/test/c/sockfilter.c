/*
 * A UDP socket with a classic BPF filter (SO_ATTACH_FILTER) that lets in only datagrams starting
 * with 'A', locked (SO_LOCK_FILTER). zdtm's sock_filter00 found filters refused; before that
 * refusal a restored socket would have let everything in. On SIGUSR2: the filter is the same 4
 * instructions, still locked, and a 'B' datagram is dropped while an 'A' one arrives.
 * Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

static struct sock_filter prog[] = {
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 8),        /* first payload byte, after the UDP header */
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 'A', 0, 1),
    BPF_STMT(BPF_RET | BPF_K, 0xffff),
    BPF_STMT(BPF_RET | BPF_K, 0),
};

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    struct sock_fprog fp = {.len = 4, .filter = prog};
    int one = 1;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || getsockname(s, (struct sockaddr *)&a, &n)) fail("bind");
    if (setsockopt(s, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof fp)) fail("SO_ATTACH_FILTER");
    if (setsockopt(s, SOL_SOCKET, SO_LOCK_FILTER, &one, sizeof one)) fail("SO_LOCK_FILTER");
    printf("ready\n");
    while (!check) pause();

    struct sock_filter got[8];
    socklen_t len = 8; /* in instructions */
    if (getsockopt(s, SOL_SOCKET, SO_GET_FILTER, got, &len) || len != 4) fail("the filter is gone or changed size");
    if (memcmp(got, prog, sizeof prog)) fail("the filter's instructions changed");
    int locked = 0;
    n = sizeof locked;
    if (getsockopt(s, SOL_SOCKET, SO_LOCK_FILTER, &locked, &n) || !locked) fail("SO_LOCK_FILTER lost");
    if (setsockopt(s, SOL_SOCKET, SO_DETACH_FILTER, &one, sizeof one) == 0) fail("a locked filter could be detached");
    int c = socket(AF_INET, SOCK_DGRAM, 0);
    if (sendto(c, "Bdrop", 5, 0, (struct sockaddr *)&a, sizeof a) != 5) fail("send B");
    if (sendto(c, "Akeep", 5, 0, (struct sockaddr *)&a, sizeof a) != 5) fail("send A");
    char buf[16];
    ssize_t r = recv(s, buf, sizeof buf, 0);
    if (r != 5 || memcmp(buf, "Akeep", 5)) fail("the filter let the wrong datagram in");
    printf("PASS\n");
    return 0;
}
