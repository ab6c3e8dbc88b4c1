/*
 * tun/tap devices in a net namespace of the program's own (a VPN's, wireguard-go's, a VM
 * monitor's shape in a container). It unshares a net namespace and makes there:
 *   argv[1] "tun": cryt0, IFF_TUN | IFF_NO_PI, one file, owner 1234, MTU 1400;
 *   argv[1] "tap": cryt0, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE, two files (queues),
 *                  group 4321, virtio-net header size 12, send buffer 262144 (TUNSETSNDBUF),
 *                  MAC 02:00:00:00:77:01, MTU 4000, and offloads (TUNSETOFFLOAD: checksum, TCP and
 *                  UDP segmentation, as qemu and firecracker ask for), and a persistent tap with
 *                  no file, cryv0, header size 12 (a VM's tap waiting for it);
 * 10.77.0.1/24 on it and a route to 10.88.0.0/24 through it, and a persistent tun device with no
 * file, cryp0 (10.79.0.1/24). It answers its own peers itself: a UDP datagram its socket sends
 * to 10.77.0.2 or 10.88.0.5 leaves through cryt0, the program reads it from the device, turns it
 * round (answering the ARP requests of a tap first) and writes it back, and the socket receives it
 * from that peer. Before "ready", and on SIGUSR2 after checking the devices' flags, indexes and
 * header size. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <linux/virtio_net.h>

#ifndef TUN_F_USO4 /* Linux 6.2; Debian 12's headers predate them */
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

static int tap, q[2], queues, hdr; /* hdr: the virtio-net header's size before each frame of the tap */
static const unsigned char PEER_MAC[6] = {2, 0, 0, 0, 0x77, 2};

static int flags_of(int fd) {
    struct ifreq r;
    memset(&r, 0, sizeof r);
    if (ioctl(fd, TUNGETIFF, &r)) fail("TUNGETIFF");
    return r.ifr_flags;
}

/** The names of the offload features active on device dev (ethtool -k's), space-separated. */
static void offloads(const char *dev, char *out, size_t size) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq r;
    memset(&r, 0, sizeof r);
    strcpy(r.ifr_name, dev);
    struct { struct ethtool_sset_info i; __u32 n; } info = {{.cmd = ETHTOOL_GSSET_INFO, .sset_mask = 1ULL << ETH_SS_FEATURES}, 0};
    r.ifr_data = (void *)&info;
    if (s < 0 || ioctl(s, SIOCETHTOOL, &r)) fail("ETHTOOL_GSSET_INFO");
    struct ethtool_gstrings *names = calloc(1, sizeof *names + info.n * ETH_GSTRING_LEN);
    struct ethtool_gfeatures *f = calloc(1, sizeof *f + (info.n + 31) / 32 * sizeof f->features[0]);
    names->cmd = ETHTOOL_GSTRINGS, names->string_set = ETH_SS_FEATURES, names->len = info.n;
    f->cmd = ETHTOOL_GFEATURES, f->size = (info.n + 31) / 32;
    r.ifr_data = (void *)names;
    if (ioctl(s, SIOCETHTOOL, &r)) fail("ETHTOOL_GSTRINGS");
    r.ifr_data = (void *)f;
    if (ioctl(s, SIOCETHTOOL, &r)) fail("ETHTOOL_GFEATURES");
    out[0] = 0;
    for (__u32 i = 0; i < info.n; i++) {
        const char *name = (const char *)names->data + i * ETH_GSTRING_LEN;
        if ((f->features[i / 32].active & (1U << (i % 32))) && strstr(name, "tx-") == name
            && (strstr(name, "segmentation") || strstr(name, "checksum")))
            snprintf(out + strlen(out), size - strlen(out), "%.32s ", name);
    }
    free(names), free(f), close(s);
}

static void sh(const char *cmd) {
    if (system(cmd) != 0) {
        printf("FAIL: %s\n", cmd);
        exit(1);
    }
}

/** Turns an IPv4 UDP packet at p round: addresses and ports swapped (their checksums do not change). */
static int turn_udp(unsigned char *p, ssize_t n) {
    if (n < 28 || (p[0] >> 4) != 4 || p[9] != IPPROTO_UDP) return 0;
    int ihl = (p[0] & 15) * 4;
    unsigned char t[4];
    memcpy(t, p + 12, 4), memcpy(p + 12, p + 16, 4), memcpy(p + 16, t, 4);
    memcpy(t, p + ihl, 2), memcpy(p + ihl, p + ihl + 2, 2), memcpy(p + ihl + 2, t, 2);
    return 1;
}

/** Reads what the kernel sent out of queue fd and writes its answer back: the program is its own peer. */
static void answer(int fd) {
    unsigned char b[9100];
    ssize_t n = read(fd, b, sizeof b);
    if (n <= 0) return;
    if (!tap) {
        if (turn_udp(b, n)) (void)!write(fd, b, n);
        return;
    }
    unsigned char *e = b + hdr;
    if (n < hdr + 14) return;
    int partial = b[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM; /* the checksum offload: the kernel left it to the device */
    memset(b, 0, hdr); /* no offload asked for the way back */
    if (e[12] == 0x08 && e[13] == 0x06 && n >= hdr + 42 && e[20] == 0 && e[21] == 1) { /* ARP request */
        unsigned char *a = e + 14, tpa[4];
        memcpy(e, e + 6, 6), memcpy(e + 6, PEER_MAC, 6);
        a[7] = 2;
        memcpy(tpa, a + 24, 4);
        memcpy(a + 18, a + 8, 6), memcpy(a + 24, a + 14, 4); /* target: the asker */
        memcpy(a + 8, PEER_MAC, 6), memcpy(a + 14, tpa, 4);   /* sender: the peer asked for */
        (void)!write(fd, b, hdr + 42);
    } else if (e[12] == 0x08 && e[13] == 0x00 && turn_udp(e + 14, n - hdr - 14)) {
        if (partial) memset(e + 14 + (e[14] & 15) * 4 + 6, 0, 2); /* no UDP checksum, as IPv4 allows */
        memcpy(e, e + 6, 6), memcpy(e + 6, PEER_MAC, 6);
        (void)!write(fd, b, n);
    }
}

/** Sends a datagram to peer:7 through the device and waits for it to come back from the peer. */
static void echo(int s, const char *peer) {
    static int round;
    char msg[64], got[64];
    snprintf(msg, sizeof msg, "hello %s %d", peer, ++round);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(7)}, from;
    inet_pton(AF_INET, peer, &to.sin_addr);
    if (sendto(s, msg, strlen(msg), 0, (struct sockaddr *)&to, sizeof to) < 0) fail("sendto");
    for (int i = 0; i < 600; i++) { /* 60 s: generous under load */
        struct pollfd p[3] = {{s, POLLIN, 0}, {q[0], POLLIN, 0}, {queues > 1 ? q[1] : -1, POLLIN, 0}};
        if (poll(p, 3, 100) < 0) continue;
        for (int k = 1; k < 3; k++)
            if (p[k].revents & POLLIN) answer(p[k].fd);
        if (p[0].revents & POLLIN) {
            socklen_t len = sizeof from;
            ssize_t n = recvfrom(s, got, sizeof got - 1, 0, (struct sockaddr *)&from, &len);
            if (n < 0) fail("recvfrom");
            got[n] = 0;
            if (strcmp(got, msg) || from.sin_addr.s_addr != to.sin_addr.s_addr || from.sin_port != htons(7)) {
                printf("FAIL: got \"%s\" from %s, not \"%s\" from %s\n", got, inet_ntoa(from.sin_addr), msg, peer);
                exit(1);
            }
            return;
        }
    }
    printf("FAIL: no answer from %s through cryt0\n", peer);
    exit(1);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2 || (strcmp(argv[1], "tun") && strcmp(argv[1], "tap"))) fail("usage: tunns tun|tap");
    tap = !strcmp(argv[1], "tap");
    queues = tap ? 2 : 1;
    if (unshare(CLONE_NEWNET)) fail("unshare(CLONE_NEWNET)");
    int flags = IFF_NO_PI | (tap ? IFF_TAP | IFF_VNET_HDR | IFF_MULTI_QUEUE : IFF_TUN);
    for (int i = 0; i < queues; i++) {
        struct ifreq r;
        memset(&r, 0, sizeof r);
        strcpy(r.ifr_name, "cryt0");
        r.ifr_flags = flags;
        if ((q[i] = open("/dev/net/tun", O_RDWR)) < 0 || ioctl(q[i], TUNSETIFF, &r)) fail("TUNSETIFF");
    }
    if (tap) {
        hdr = 12;
        int sndbuf = 262144;
        if (ioctl(q[0], TUNSETVNETHDRSZ, &hdr) || ioctl(q[0], TUNSETGROUP, 4321) || ioctl(q[0], TUNSETSNDBUF, &sndbuf))
            fail("TUNSETVNETHDRSZ/GROUP/SNDBUF");
        if (ioctl(q[0], TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_USO4 | TUN_F_USO6))
            fail("TUNSETOFFLOAD");
        sh("ip link set cryt0 address 02:00:00:00:77:01 mtu 4000");
        int v = open("/dev/net/tun", O_RDWR), vsize = 12;
        struct ifreq r;
        memset(&r, 0, sizeof r);
        strcpy(r.ifr_name, "cryv0");
        r.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
        if (v < 0 || ioctl(v, TUNSETIFF, &r) || ioctl(v, TUNSETVNETHDRSZ, &vsize) || ioctl(v, TUNSETPERSIST, 1) || close(v))
            fail("cryv0");
    } else {
        if (ioctl(q[0], TUNSETOWNER, 1234)) fail("TUNSETOWNER");
        sh("ip link set cryt0 mtu 1400");
    }
    sh("ip addr add 10.77.0.1/24 dev cryt0 && ip link set cryt0 up && ip route add 10.88.0.0/24 dev cryt0"
       " && ip tuntap add dev cryp0 mode tun && ip addr add 10.79.0.1/24 dev cryp0 && ip link set cryp0 up");
    unsigned index = if_nametoindex("cryt0"), persistent = if_nametoindex("cryp0");
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0 || !index || !persistent) fail("socket or device index");
    echo(s, "10.77.0.2");
    echo(s, "10.88.0.5");
    char before[1024], after[1024];
    offloads("cryt0", before, sizeof before);
    if (tap && !strstr(before, "tx-tcp6-segmentation")) {
        printf("FAIL: TUNSETOFFLOAD did not show: %s\n", before);
        return 1;
    }
    printf("ready\n");
    while (!check) pause();
    if (if_nametoindex("cryt0") != index) fail("cryt0 came back under another ifindex");
    if (if_nametoindex("cryp0") != persistent) fail("the persistent cryp0 came back under another ifindex (or not)");
    for (int i = 0; i < queues; i++) {
        int f = flags_of(q[i]);
        if ((f & (IFF_TUN | IFF_TAP | IFF_VNET_HDR | IFF_MULTI_QUEUE)) != (flags & ~IFF_NO_PI)) {
            printf("FAIL: queue %d came back with flags 0x%x, not 0x%x\n", i, f, flags);
            return 1;
        }
        if (f & (IFF_PERSIST | IFF_DETACH_QUEUE)) fail("cryt0 came back persistent or a queue detached");
    }
    offloads("cryt0", after, sizeof after);
    if (strcmp(before, after)) {
        printf("FAIL: cryt0's offloads came back as [%s], not [%s]\n", after, before);
        return 1;
    }
    if (tap) {
        int size = 0;
        if (ioctl(q[1], TUNGETVNETHDRSZ, &size) || size != 12) fail("the virtio-net header size did not come back");
        for (int i = 0; i < queues; i++)
            if (ioctl(q[i], TUNGETSNDBUF, &size) || size != 262144) fail("the send buffer did not come back");
        struct ifreq r;
        memset(&r, 0, sizeof r);
        strcpy(r.ifr_name, "cryv0");
        r.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
        int v = open("/dev/net/tun", O_RDWR);
        if (v < 0 || ioctl(v, TUNSETIFF, &r)) fail("attaching to cryv0 after the restore");
        if (ioctl(v, TUNGETVNETHDRSZ, &size) || size != 12) {
            printf("FAIL: cryv0 (persistent, no file) came back with virtio-net header size %d, not 12\n", size);
            return 1;
        }
        close(v);
    }
    echo(s, "10.77.0.2");
    echo(s, "10.88.0.5");
    printf("PASS\n");
    return 0;
}
