/*
 * packetring2 — a packet socket with a TPACKET_V2 receive ring, as Suricata's and Snort 3's
 * AF_PACKET capture hold one: 4 frames of 2048 bytes in 2 blocks, bound to ethertype 0x88b6 on lo
 * in a net namespace of its own (run under `unshare -n` with lo up); it sends its own frames from a
 * second packet socket. It has read and given back f0..f3 (the kernel has gone once round the
 * ring) and holds f4 and f5, unread, in frames 0 and 1: the kernel writes next into frame 2, which
 * no frame header says (V2 frames carry no sequence number). Refused before ("only TPACKET_V3 rings
 * are carried"). On SIGUSR2 it reads f4 and f5 from frames 0 and 1 with the lengths and timestamps
 * they had, gives them back, then sends f6..f9, which must come in frames 2, 3, 0, 1, where it
 * reads next. With argument "tx" the ring's socket also has a transmit ring of 2 frames, never sent
 * from, mapped after the receive ring (the kernel maps both at once); the dump refused it ("has a
 * transmit ring ... and its rings have been written to"). After f6..f9 it sends f10 from the transmit
 * ring's first frame, which the kernel must take (it sends from there) and give back, and f10 comes
 * back over lo in frame 2. Prints "ready", then PASS or FAIL.
 */
#define _GNU_SOURCE
#include "workload.h"
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FRAMES 4
#define FRAME 2048
#define PROTO 0x88b6

static unsigned char *ring;
static int rx, tx, lo;

static struct tpacket2_hdr *frame(int i) {
    return (struct tpacket2_hdr *)(ring + (size_t)i * FRAME);
}

static void send_frame(int n) {
    unsigned char f[60] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, PROTO >> 8, PROTO & 0xff};
    snprintf((char *)f + 14, 8, "f%d", n);
    struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_ifindex = lo, .sll_halen = 6};
    memset(to.sll_addr, 0xff, 6);
    if (sendto(tx, f, sizeof f, 0, (struct sockaddr *)&to, sizeof to) != sizeof f) fail("send a frame");
}

/* Waits (5 s at most) for frame i to be handed over, and checks it holds fN. */
static void expect(int i, int n) {
    for (int t = 0; t < 500 && !(frame(i)->tp_status & TP_STATUS_USER); t++) {
        struct pollfd p = {.fd = rx, .events = POLLIN};
        poll(&p, 1, 10);
    }
    __sync_synchronize();
    char want[8];
    snprintf(want, sizeof want, "f%d", n);
    struct tpacket2_hdr *h = frame(i);
    if (!(h->tp_status & TP_STATUS_USER)) {
        printf("FAIL: f%d did not come in frame %d (frames' status %u %u %u %u)\n", n, i, frame(0)->tp_status,
               frame(1)->tp_status, frame(2)->tp_status, frame(3)->tp_status);
        exit(1);
    }
    const char *got = (const char *)h + h->tp_mac + 14;
    if (h->tp_len != 60 || strcmp(got, want)) {
        printf("FAIL: frame %d holds '%.7s' of %u bytes, not %s\n", i, got, h->tp_len, want);
        exit(1);
    }
}

static void give_back(int i) {
    __sync_synchronize();
    frame(i)->tp_status = TP_STATUS_KERNEL;
    __sync_synchronize();
}

/* Sends fN from the transmit ring's first frame (V2: its data after the aligned header) and waits for the kernel. */
static void send_from_ring(unsigned char *txring, int n) {
    struct tpacket2_hdr *h = (struct tpacket2_hdr *)txring;
    if (h->tp_status != TP_STATUS_AVAILABLE) fail("the transmit ring's first frame is not available");
    unsigned char *f = txring + TPACKET_ALIGN(sizeof(struct tpacket2_hdr));
    unsigned char head[14] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, PROTO >> 8, PROTO & 0xff};
    memset(f, 0, 60);
    memcpy(f, head, sizeof head);
    snprintf((char *)f + 14, 8, "f%d", n);
    h->tp_len = 60;
    __sync_synchronize();
    h->tp_status = TP_STATUS_SEND_REQUEST;
    __sync_synchronize();
    if (send(rx, NULL, 0, 0) != 60) fail("send from the transmit ring");
    if (h->tp_status != TP_STATUS_AVAILABLE) {
        printf("FAIL: the kernel did not send from the transmit ring's first frame (status %u)\n", h->tp_status);
        exit(1);
    }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int with_tx = argc > 1 && !strcmp(argv[1], "tx");
    signal(SIGUSR2, on_usr2);
    lo = if_nametoindex("lo");
    rx = socket(AF_PACKET, SOCK_RAW, 0);
    tx = socket(AF_PACKET, SOCK_RAW, 0);
    int v = TPACKET_V2;
    struct tpacket_req req = {.tp_block_size = 4096, .tp_block_nr = 2, .tp_frame_size = FRAME, .tp_frame_nr = FRAMES};
    if (rx < 0 || tx < 0 || setsockopt(rx, SOL_PACKET, PACKET_VERSION, &v, sizeof v)
        || setsockopt(rx, SOL_PACKET, PACKET_RX_RING, &req, sizeof req)) fail("the ring");
    struct tpacket_req treq = {.tp_block_size = 4096, .tp_block_nr = 1, .tp_frame_size = FRAME, .tp_frame_nr = 2};
    if (with_tx && setsockopt(rx, SOL_PACKET, PACKET_TX_RING, &treq, sizeof treq)) fail("the transmit ring");
    ring = mmap(NULL, FRAMES * FRAME + (with_tx ? 4096 : 0), PROT_READ | PROT_WRITE, MAP_SHARED, rx, 0);
    struct sockaddr_ll a = {.sll_family = AF_PACKET, .sll_protocol = htons(PROTO), .sll_ifindex = lo};
    if (ring == MAP_FAILED || bind(rx, (struct sockaddr *)&a, sizeof a)) fail("map and bind");
    for (int n = 0; n < 4; n++) { /* once round the ring */
        send_frame(n);
        expect(n, n);
        give_back(n);
    }
    send_frame(4);
    send_frame(5);
    expect(0, 4);
    expect(1, 5);
    unsigned sec[2] = {frame(0)->tp_sec, frame(1)->tp_sec}, nsec[2] = {frame(0)->tp_nsec, frame(1)->tp_nsec};
    printf("ready\n");
    while (!check) pause();
    expect(0, 4);
    expect(1, 5);
    for (int i = 0; i < 2; i++) {
        if (frame(i)->tp_sec != sec[i] || frame(i)->tp_nsec != nsec[i]) {
            printf("FAIL: frame %d's timestamp is %u.%09u, not %u.%09u\n", i, frame(i)->tp_sec, frame(i)->tp_nsec, sec[i],
                   nsec[i]);
            return 1;
        }
        give_back(i);
    }
    for (int n = 6; n < 10; n++) {
        send_frame(n);
        expect((n - 4) % FRAMES, n);
        give_back((n - 4) % FRAMES);
    }
    if (with_tx) {
        send_from_ring(ring + FRAMES * FRAME, 10);
        expect(2, 10);
        give_back(2);
    }
    printf("PASS\n");
    return 0;
}
