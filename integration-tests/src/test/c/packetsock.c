/*
 * packetsock — packet sockets (AF_PACKET) as dhclient, arping and keepalived hold them, inside a
 * net namespace of its own with a veth pair cryo-pa/cryo-pb (both up). Started as
 * `unshare -n --pid --fork --mount-proc sh -c 'SETUP && exec packetsock'`. It holds:
 *   - a raw socket made for ETH_P_ALL, bound to cryo-pa, with a classic BPF filter that takes only
 *     ethertype 0x88b5, PACKET_AUXDATA on, TPACKET_V2 chosen, memberships: promiscuous and the
 *     multicast address 01:00:5e:01:02:03 on cryo-pa;
 *   - a cooked (SOCK_DGRAM) socket bound to protocol 0x88b6 on cryo-pa with PACKET_ORIGDEV on;
 *   - a raw socket made with protocol 0 and bound to cryo-pb (it receives nothing), used to send;
 * prints "ready" and waits.
 *
 * On SIGUSR2 it checks each socket's binding (interface by name: the pair is made again), options
 * and filter; that cryo-pa is promiscuous once (`ip -d link`) and has the multicast address; sends three frames from
 * cryo-pb (0x1234, 0x88b5, 0x88b6): the raw socket gets only the 0x88b5 one, with its auxdata, the
 * cooked one only its payload of 0x88b6; closing the raw socket leaves cryo-pa neither
 * promiscuous nor with the address (each membership was added once). Prints "PASS" or "FAIL: why".
 */
#define _GNU_SOURCE
#include "workload.h"
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const unsigned char MCAST[6] = {0x01, 0x00, 0x5e, 0x01, 0x02, 0x03};

static int bound(int s, int proto, const char *dev)
{
    struct sockaddr_ll a = {.sll_family = AF_PACKET, .sll_protocol = htons(proto), .sll_ifindex = if_nametoindex(dev)};
    return bind(s, (struct sockaddr *)&a, sizeof a);
}

static int member(int s, int type, const unsigned char *addr)
{
    struct packet_mreq m = {.mr_ifindex = if_nametoindex("cryo-pa"), .mr_type = type};
    if (addr) {
        m.mr_alen = 6;
        memcpy(m.mr_address, addr, 6);
    }
    return setsockopt(s, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &m, sizeof m);
}

static int getint(int s, int level, int opt)
{
    int v = -1;
    socklen_t l = sizeof v;
    return getsockopt(s, level, opt, &v, &l) ? -2 : v;
}

/* The device's promiscuity count (IFF_PROMISC in its flags shows only what `ip link set promisc` set). */
static int promiscuity(void)
{
    FILE *f = popen("ip -d link show cryo-pa", "r");
    char line[512];
    int n = -1;
    while (f && fgets(line, sizeof line, f)) {
        char *p = strstr(line, "promiscuity ");
        if (p)
            n = atoi(p + 12);
    }
    if (!f || pclose(f) != 0 || n < 0)
        fail("cannot read cryo-pa's promiscuity with ip -d link");
    return n;
}

static int has_mcast(void)
{
    FILE *f = fopen("/proc/net/dev_mcast", "r");
    char line[256];
    int found = 0;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, "cryo-pa") && strstr(line, "01005e010203"))
            found = 1;
    if (f)
        fclose(f);
    return found;
}

static void send_frame(int tx, int proto, const char *payload)
{
    unsigned char f[64] = {0};
    memset(f, 0xff, 6); /* broadcast */
    f[6] = 0x02;
    f[12] = proto >> 8;
    f[13] = proto & 0xff;
    memcpy(f + 14, payload, strlen(payload));
    struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_ifindex = if_nametoindex("cryo-pb"), .sll_halen = 6};
    memset(to.sll_addr, 0xff, 6);
    if (sendto(tx, f, sizeof f, 0, (struct sockaddr *)&to, sizeof to) != sizeof f)
        fail("cannot send a frame from cryo-pb");
}

static int readable(int s, int ms)
{
    struct pollfd p = {.fd = s, .events = POLLIN};
    return poll(&p, 1, ms) == 1;
}

int main(void)
{
    signal(SIGUSR2, on_usr2);
    int raw = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    int cooked = socket(AF_PACKET, SOCK_DGRAM, htons(0x88b6));
    int tx = socket(AF_PACKET, SOCK_RAW, 0);
    if (raw < 0 || cooked < 0 || tx < 0)
        fail("socket(AF_PACKET)");
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x88b5, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0xffff),
        BPF_STMT(BPF_RET | BPF_K, 0),
    };
    struct sock_fprog prog = {.len = 4, .filter = code};
    int one = 1, v2 = TPACKET_V2;
    if (setsockopt(raw, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) || bound(raw, ETH_P_ALL, "cryo-pa")
        || member(raw, PACKET_MR_PROMISC, NULL) || member(raw, PACKET_MR_MULTICAST, MCAST)
        || setsockopt(raw, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one)
        || setsockopt(raw, SOL_PACKET, PACKET_VERSION, &v2, sizeof v2))
        fail("setting up the raw socket");
    if (bound(cooked, 0x88b6, "cryo-pa") || setsockopt(cooked, SOL_PACKET, PACKET_ORIGDEV, &one, sizeof one))
        fail("setting up the cooked socket");
    if (bound(tx, 0, "cryo-pb"))
        fail("binding the sending socket");
    while (readable(raw, 0)) /* anything the filter let in before the bind */
        recv(raw, code, 1, MSG_TRUNC);
    printf("ready\n");
    fflush(stdout);
    while (!check)
        pause();

    struct sockaddr_ll a;
    socklen_t al = sizeof a;
    if (getsockname(raw, (struct sockaddr *)&a, &al) || a.sll_ifindex != (int)if_nametoindex("cryo-pa")
        || a.sll_protocol != htons(ETH_P_ALL))
        fail("the raw socket is not bound to ETH_P_ALL on cryo-pa");
    al = sizeof a;
    if (getsockname(cooked, (struct sockaddr *)&a, &al) || a.sll_ifindex != (int)if_nametoindex("cryo-pa")
        || a.sll_protocol != htons(0x88b6))
        fail("the cooked socket is not bound to 0x88b6 on cryo-pa");
    al = sizeof a;
    if (getsockname(tx, (struct sockaddr *)&a, &al) || a.sll_ifindex != (int)if_nametoindex("cryo-pb") || a.sll_protocol)
        fail("the sending socket is not bound to protocol 0 on cryo-pb");
    if (getint(raw, SOL_SOCKET, SO_TYPE) != SOCK_RAW || getint(cooked, SOL_SOCKET, SO_TYPE) != SOCK_DGRAM)
        fail("a socket's type changed");
    if (getint(raw, SOL_PACKET, PACKET_AUXDATA) != 1 || getint(raw, SOL_PACKET, PACKET_VERSION) != TPACKET_V2
        || getint(cooked, SOL_PACKET, PACKET_ORIGDEV) != 1 || getint(cooked, SOL_PACKET, PACKET_AUXDATA) != 0)
        fail("the packet options are not as set");
    socklen_t insns = 0;
    if (getsockopt(raw, SOL_SOCKET, SO_GET_FILTER, NULL, &insns) || insns != 4)
        fail("the raw socket's filter is not there");
    if (promiscuity() != 1 || !has_mcast())
        fail("cryo-pa is not promiscuous or lacks the multicast address");

    send_frame(tx, 0x1234, "junk");
    send_frame(tx, 0x88b5, "hello");
    send_frame(tx, 0x88b6, "cooked");
    unsigned char buf[128];
    char cbuf[256];
    struct iovec iov = {buf, sizeof buf};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    if (!readable(raw, 5000))
        fail("the raw socket got nothing");
    ssize_t n = recvmsg(raw, &mh, MSG_DONTWAIT);
    if (n < 20 || buf[12] != 0x88 || buf[13] != 0xb5 || memcmp(buf + 14, "hello", 5))
        fail("the raw socket's first frame is not the 0x88b5 one");
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    if (!c || c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA)
        fail("the raw socket's frame came without its auxdata");
    if (readable(raw, 200))
        fail("the raw socket's filter let another frame in");
    if (!readable(cooked, 5000))
        fail("the cooked socket got nothing");
    al = sizeof a;
    n = recvfrom(cooked, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&a, &al);
    if (n < 6 || memcmp(buf, "cooked", 6) || a.sll_protocol != htons(0x88b6))
        fail("the cooked socket's frame is not the 0x88b6 payload");
    close(raw);
    if (promiscuity() != 0 || has_mcast())
        fail("cryo-pa keeps a membership after the socket that added it closed");
    printf("PASS\n");
    fflush(stdout);
    return 0;
}
