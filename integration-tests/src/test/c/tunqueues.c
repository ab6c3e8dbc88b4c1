/*
 * A multi-queue tun device of the host's net namespace with two queues, the second detached
 * (TUNSETQUEUE IFF_DETACH_QUEUE, as QEMU does with a guest's idle queues): fdinfo names the device
 * for both. argv[1] is the device name. On SIGUSR2: the first queue is attached, the second still
 * detached, it attaches again when asked, and the device still goes with its last file (not
 * persistent). Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "workload.h"

static int flags_of(int fd) {
    struct ifreq r;
    memset(&r, 0, sizeof r);
    if (ioctl(fd, TUNGETIFF, &r)) fail("TUNGETIFF");
    return r.ifr_flags;
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
