/*
 * packetidle — packet sockets whose TPACKET_V1/V2 rings neither the kernel nor the program has
 * written to yet, as zdtm's packet_sock and packet_sock_mmap hold them. Run in a net namespace of
 * its own with lo up. It holds:
 *   - a raw socket made with protocol 0 (it receives nothing), TPACKET_V2, PACKET_AUXDATA on, with a
 *     receive ring of 4 frames of 1024 bytes in one block, not mapped;
 *   - a cooked socket for ETH_P_IP bound to lo with a transmit ring (TPACKET_V1), not mapped;
 *   - a raw socket made with protocol 0 with a receive ring and a transmit ring (TPACKET_V1), both
 *     mapped together privately (MAP_PRIVATE, read and write);
 * prints "ready" and waits.
 *
 * On SIGUSR2 it checks each socket's version, that each ring is there (setting it again is EBUSY)
 * with its size (a mapping of the socket must be exactly its rings' bytes), that the private mapping
 * is where it was and is of that socket, and sends a frame from the first frame of the third
 * socket's transmit ring (through a shared mapping of it). Prints "PASS" or "FAIL: why".
 */
#define _GNU_SOURCE
#include "workload.h"
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define PAGE 4096

static struct tpacket_req req = {.tp_block_size = PAGE, .tp_block_nr = 1, .tp_frame_size = 1024, .tp_frame_nr = 4};

static int version(int s) {
    int v = -1;
    socklen_t l = sizeof v;
    return getsockopt(s, SOL_PACKET, PACKET_VERSION, &v, &l) ? -2 : v;
}

/* The ring is there: setting one again while it is is EBUSY. */
static void has_ring(int s, int which, const char *what) {
    if (setsockopt(s, SOL_PACKET, which, &req, sizeof req) == 0 || errno != EBUSY) {
        printf("FAIL: %s: setting the ring again did not fail with EBUSY (%s)\n", what, strerror(errno));
        exit(1);
    }
}

/* A mapping of the socket is accepted only at exactly the size of its rings. */
static void maps_as(int s, size_t bytes, const char *what) {
    void *m = mmap(NULL, bytes, PROT_READ, MAP_SHARED, s, 0);
    if (m == MAP_FAILED) {
        printf("FAIL: %s: mapping %zu bytes: %s\n", what, bytes, strerror(errno));
        exit(1);
    }
    munmap(m, bytes);
}

static int mapped_at(unsigned long addr, int s, char *perms) {
    struct stat st;
    char line[4096];
    FILE *f = fopen("/proc/self/maps", "r");
    fstat(s, &st);
    while (fgets(line, sizeof line, f)) {
        unsigned long start;
        unsigned long long ino;
        unsigned maj, min;
        char p[5];
        if (sscanf(line, "%lx-%*x %4s %*s %x:%x %llu", &start, p, &maj, &min, &ino) == 5 && start == addr
            && st.st_dev == makedev(maj, min) && st.st_ino == ino) {
            strcpy(perms, p);
            fclose(f);
            return 1;
        }
    }
    fclose(f);
    return 0;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int v2 = TPACKET_V2, yes = 1;
    int rx = socket(AF_PACKET, SOCK_RAW, 0);
    if (rx < 0 || setsockopt(rx, SOL_PACKET, PACKET_VERSION, &v2, sizeof v2)
        || setsockopt(rx, SOL_PACKET, PACKET_AUXDATA, &yes, sizeof yes)
        || setsockopt(rx, SOL_PACKET, PACKET_RX_RING, &req, sizeof req)) fail("the V2 receive ring");
    int tx = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP));
    struct sockaddr_ll a = {.sll_family = AF_PACKET, .sll_ifindex = if_nametoindex("lo")};
    if (tx < 0 || bind(tx, (struct sockaddr *)&a, sizeof a) || setsockopt(tx, SOL_PACKET, PACKET_TX_RING, &req, sizeof req))
        fail("the bound socket's transmit ring");
    int both = socket(AF_PACKET, SOCK_RAW, 0);
    if (both < 0 || setsockopt(both, SOL_PACKET, PACKET_RX_RING, &req, sizeof req)
        || setsockopt(both, SOL_PACKET, PACKET_TX_RING, &req, sizeof req)) fail("the rings of the mapped socket");
    unsigned char *mem = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, both, 0);
    if (mem == MAP_FAILED) fail("map the rings privately");
    printf("ready\n");
    while (!check) pause();

    if (version(rx) != TPACKET_V2 || version(tx) != TPACKET_V1 || version(both) != TPACKET_V1) {
        printf("FAIL: versions %d %d %d, not 1 0 0\n", version(rx), version(tx), version(both));
        return 1;
    }
    has_ring(rx, PACKET_RX_RING, "the V2 receive ring");
    has_ring(tx, PACKET_TX_RING, "the bound socket's transmit ring");
    has_ring(both, PACKET_RX_RING, "the mapped socket's receive ring");
    has_ring(both, PACKET_TX_RING, "the mapped socket's transmit ring");
    maps_as(rx, PAGE, "the V2 receive ring");
    maps_as(tx, PAGE, "the bound socket's transmit ring");
    maps_as(both, 2 * PAGE, "the mapped socket's rings");
    struct sockaddr_ll got;
    socklen_t l = sizeof got;
    if (getsockname(tx, (struct sockaddr *)&got, &l) || got.sll_protocol != htons(ETH_P_IP)
        || got.sll_ifindex != (int)if_nametoindex("lo")) fail("the bound socket's protocol and interface");
    l = sizeof got;
    if (getsockname(rx, (struct sockaddr *)&got, &l) || got.sll_protocol != 0 || got.sll_ifindex != 0)
        fail("the V2 ring's socket receives a protocol or is bound");
    char perms[5];
    if (!mapped_at((unsigned long)mem, both, perms)) fail("no mapping of the socket where it was");
    if (strcmp(perms, "rw-p")) {
        printf("FAIL: the rings are mapped %s, not rw-p\n", perms);
        return 1;
    }
    for (int i = 0; i < 2 * PAGE; i++) {
        if (mem[i]) fail("the private mapping is not zero");
    }
    mem[0] = 1; /* the task's own copy now */

    /* the transmit ring sends from its first frame */
    unsigned char *shared = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, both, 0);
    if (shared == MAP_FAILED) fail("map the rings shared");
    struct tpacket_hdr *h = (struct tpacket_hdr *)(shared + PAGE);
    unsigned char *data = (unsigned char *)h + TPACKET_ALIGN(sizeof(struct tpacket_hdr));
    memset(data, 0xff, 6);
    data[12] = 0x88;
    data[13] = 0xb5;
    h->tp_len = 60;
    __sync_synchronize();
    h->tp_status = TP_STATUS_SEND_REQUEST;
    struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_protocol = htons(0x88b5), .sll_ifindex = if_nametoindex("lo"),
                             .sll_halen = 6};
    memset(to.sll_addr, 0xff, 6);
    ssize_t n = sendto(both, NULL, 0, 0, (struct sockaddr *)&to, sizeof to);
    if (n != 60) {
        printf("FAIL: the transmit ring sent %zd bytes, not 60 (%s)\n", n, strerror(errno));
        return 1;
    }
    printf("PASS\n");
    return 0;
}
