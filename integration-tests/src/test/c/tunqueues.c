/*
 * A multi-queue tun device of the host's net namespace with two queues, the second detached
 * (TUNSETQUEUE IFF_DETACH_QUEUE, as QEMU does with a guest's idle queues): fdinfo names the device
 * for both. argv[1] is the device name. On SIGUSR2: the first queue is attached, the second still
 * detached, it attaches again when asked, and the device still goes with its last file (not
 * persistent). argv[2] "ebpf": the device also has an eBPF steering program and an eBPF filter
 * (TUNSETSTEERINGEBPF, TUNSETFILTEREBPF, as QEMU sets for virtio-net RSS), which no ioctl reads
 * back: the device waits for the restore with them, and the state comparator holds their ids.
 * Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <linux/bpf.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "workload.h"

static int flags_of(int fd) {
    struct ifreq r;
    memset(&r, 0, sizeof r);
    if (ioctl(fd, TUNGETIFF, &r)) fail("TUNGETIFF");
    return r.ifr_flags;
}

/* An eBPF socket filter program that returns 0 ("r0 = 0; exit"): what both ioctls take. */
static int program(void) {
    struct bpf_insn ins[] = {{.code = BPF_ALU64 | BPF_MOV | BPF_K}, {.code = BPF_JMP | BPF_EXIT}};
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
    a.insns = (unsigned long)ins;
    a.insn_cnt = 2;
    a.license = (unsigned long)"GPL";
    int fd = syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a);
    if (fd < 0) fail("BPF_PROG_LOAD");
    return fd;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2) fail("usage: tunqueues NAME");
    int q0 = open("/dev/net/tun", O_RDWR), q1 = open("/dev/net/tun", O_RDWR);
    struct ifreq r;
    memset(&r, 0, sizeof r);
    strncpy(r.ifr_name, argv[1], IFNAMSIZ - 1);
    r.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE;
    if (q0 < 0 || q1 < 0 || ioctl(q0, TUNSETIFF, &r) || ioctl(q1, TUNSETIFF, &r)) fail("TUNSETIFF");
    memset(&r, 0, sizeof r);
    r.ifr_flags = IFF_DETACH_QUEUE;
    if (ioctl(q1, TUNSETQUEUE, &r)) fail("TUNSETQUEUE detach");
    if (argc > 2 && strcmp(argv[2], "ebpf") == 0) {
        int steering = program(), filter = program();
        if (ioctl(q0, TUNSETSTEERINGEBPF, &steering) || ioctl(q0, TUNSETFILTEREBPF, &filter)) fail("TUNSET*EBPF");
        close(steering);
        close(filter);
    }
    printf("ready\n");
    while (!check) pause();
    if (flags_of(q0) & IFF_DETACH_QUEUE) fail("the first queue came back detached");
    if (!(flags_of(q1) & IFF_DETACH_QUEUE)) fail("the detached queue came back attached");
    if (flags_of(q0) & IFF_PERSIST) fail("the device came back persistent");
    if (!(flags_of(q0) & IFF_MULTI_QUEUE)) fail("the device came back single-queue");
    memset(&r, 0, sizeof r);
    r.ifr_flags = IFF_ATTACH_QUEUE;
    if (ioctl(q1, TUNSETQUEUE, &r)) fail("TUNSETQUEUE attach");
    if (flags_of(q1) & IFF_DETACH_QUEUE) fail("the queue did not attach");
    printf("PASS\n");
    return 0;
}
