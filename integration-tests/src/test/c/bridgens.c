/*
 * A bridge and a macvlan in net namespaces of the program's own (a pod's shape: a bridge in one
 * namespace whose port is a veth end, the other end in a second namespace, and a macvlan on that
 * end). It unshares a net namespace (A) and forks a child that unshares another (B), then in A:
 *   bridge crybr0 with settings a new bridge has not (forward_delay 500, ageing_time 6000, priority
 *   4096, mcast_snooping 0, group_fwd_mask 0x8, nf_call_iptables 1), 10.91.0.1/24, 10.92.0.1/24 and
 *   fe80:4567::1/64 nodad on it (an unchecked link-local a program added, zdtm's bridge);
 *   a veth pair: cryb0 its port (cost 7, hairpin on, learning off, isolated on), cryb1 in B
 *   with 10.91.0.2/24;
 * and in B macvlan crym0 (mode bridge) on cryb1 with 10.92.0.2/24, arp_ignore 1 so that cryb1 does
 * not answer for the macvlan's address. B echoes UDP datagrams on port 7; A sends one to 10.91.0.2
 * and one to 10.92.0.2 and waits for each to come back, before "ready" and on SIGUSR2 after checking
 * that ip shows the bridge, its port, the macvlan and the bridge's addresses as before (timers and
 * DAD's tentative flag left out). Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

static pid_t b;

static void sh(const char *cmd) {
    if (system(cmd) != 0) {
        printf("FAIL: %s\n", cmd);
        exit(1);
    }
}

/** What ip shows of the devices, their settings and the bridge's addresses, without what changes by itself. */
static void snapshot(char *out, size_t size) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "{ ip -d -o link show dev crybr0; ip -d -o link show dev cryb0;"
             " nsenter --net=/proc/%d/ns/net ip -d -o link show dev crym0; ip addr show dev crybr0 | grep inet | sort; }"
             " | sed -E 's/[a-z_]*timer +[0-9.]+//g; s/ tentative//'", b);
    FILE *f = popen(cmd, "r");
    if (!f) fail("popen");
    size_t n = fread(out, 1, size - 1, f);
    out[n] = 0;
    if (pclose(f) != 0 || !strstr(out, "forward_delay 500") || !strstr(out, "macvlan mode bridge"))
        printf("FAIL: ip shows %s\n", out), exit(1);
}

/** Sends a datagram to peer:7 and waits for it to come back from the peer. */
static void echo(int s, const char *peer) {
    static int round;
    char msg[64], got[64];
    snprintf(msg, sizeof msg, "hello %s %d", peer, ++round);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(7)}, from;
    inet_pton(AF_INET, peer, &to.sin_addr);
    for (int i = 0; i < 60; i++) { /* resent each second: the first waits for ARP; 60 s, generous under load */
        if (sendto(s, msg, strlen(msg), 0, (struct sockaddr *)&to, sizeof to) < 0) fail("sendto");
        struct pollfd p = {s, POLLIN, 0};
        if (poll(&p, 1, 1000) <= 0) continue;
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(s, got, sizeof got - 1, 0, (struct sockaddr *)&from, &len);
        if (n < 0) fail("recvfrom");
        got[n] = 0;
        int earlier;
        if (sscanf(got, "hello %*s %d", &earlier) == 1 && earlier < round)
            continue; /* an earlier round's answer to its resent datagram (slow ARP at load) */
        if (strcmp(got, msg) || from.sin_addr.s_addr != to.sin_addr.s_addr) {
            printf("FAIL: got \"%s\" from %s, not \"%s\" from %s\n", got, inet_ntoa(from.sin_addr), msg, peer);
            exit(1);
        }
        return;
    }
    printf("FAIL: no answer from %s through crybr0\n", peer);
    exit(1);
}

static void child(int ready, pid_t parent) {
    /* goes with the program, should it fail before its own kill */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent) _exit(1);
    if (unshare(CLONE_NEWNET)) fail("unshare(CLONE_NEWNET) in the child");
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons(7)};
    if (s < 0 || bind(s, (struct sockaddr *)&any, sizeof any)) fail("bind :7 in the child");
    (void)!write(ready, "x", 1);
    close(ready);
    for (;;) {
        char buf[64];
        struct sockaddr_in from;
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
        if (n > 0) sendto(s, buf, n, 0, (struct sockaddr *)&from, len);
    }
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (unshare(CLONE_NEWNET)) fail("unshare(CLONE_NEWNET)");
    int p[2];
    char x;
    if (pipe(p)) fail("pipe");
    pid_t self = getpid();
    if ((b = fork()) == 0) {
        close(p[0]);
        child(p[1], self);
    }
    close(p[1]);
    if (read(p[0], &x, 1) != 1) fail("the child did not start");
    char cmd[2048], in[64];
    snprintf(in, sizeof in, "nsenter --net=/proc/%d/ns/net", b);
    snprintf(cmd, sizeof cmd, "ip link set lo up && ip link add crybr0 type bridge forward_delay 500 ageing_time 6000"
             " priority 4096 mcast_snooping 0 group_fwd_mask 0x8 nf_call_iptables 1"
             " && ip addr add 10.91.0.1/24 dev crybr0 && ip addr add 10.92.0.1/24 dev crybr0"
             " && ip addr add fe80:4567::1/64 nodad dev crybr0"
             " && ip link add cryb0 type veth peer name cryb1 netns %d && ip link set cryb0 master crybr0"
             " && ip link set cryb0 type bridge_slave cost 7 hairpin on learning off isolated on"
             " && ip link set cryb0 up && ip link set crybr0 up"
             " && %s sh -c 'ip link set lo up && echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore"
             " && ip addr add 10.91.0.2/24 dev cryb1 && ip link set cryb1 up"
             " && ip link add crym0 link cryb1 type macvlan mode bridge && ip addr add 10.92.0.2/24 dev crym0"
             " && ip link set crym0 up'", b, in);
    sh(cmd);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0) fail("socket");
    echo(s, "10.91.0.2");
    echo(s, "10.92.0.2");
    static char before[16384], after[16384];
    snapshot(before, sizeof before);
    printf("ready\n");
    while (!check) pause();
    snapshot(after, sizeof after);
    if (strcmp(before, after)) {
        printf("FAIL: ip shows after the restore:\n%s\nnot as before:\n%s\n", after, before);
        return 1;
    }
    echo(s, "10.91.0.2");
    echo(s, "10.92.0.2");
    kill(b, SIGKILL);
    waitpid(b, NULL, 0);
    printf("PASS\n");
    return 0;
}
