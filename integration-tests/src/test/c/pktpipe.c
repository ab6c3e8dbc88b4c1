/*
 * A packet-mode pipe (pipe2 O_DIRECT, as a job server or a log relay keeps message boundaries)
 * holding three unread packets of 2, 3 and 5000 bytes (the kernel cuts the last in page-sized
 * packets), beside a plain pipe holding two unread writes (a byte stream: one read takes both).
 * On SIGUSR2 each read of the packet pipe must return exactly one packet, in order, a new write
 * must still be a packet of its own, and the plain pipe's bytes must come in one read; prints PASS
 * or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "workload.h"

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int pk[2], st[2];
    static char big[5000], buf[8192];
    memset(big, 'z', sizeof big);
    if (pipe2(pk, O_DIRECT) || pipe(st)) fail("pipe");
    if (write(pk[1], "ab", 2) != 2 || write(pk[1], "cde", 3) != 3 || write(pk[1], big, sizeof big) != sizeof big)
        fail("write packets");
    if (write(st[1], "fg", 2) != 2 || write(st[1], "hij", 3) != 3) fail("write stream");
    printf("ready\n");
    while (!check) pause();
    int want[] = {2, 3, 4096, 904};
    for (int i = 0; i < 4; i++) {
        int n = read(pk[0], buf, sizeof buf);
        if (n != want[i]) {
            printf("FAIL: read %d of the packet pipe took %d bytes, not one packet of %d\n", i, n, want[i]);
            return 1;
        }
    }
    if (write(pk[1], "x", 1) != 1 || write(pk[1], "yz", 2) != 2 || read(pk[0], buf, sizeof buf) != 1)
        fail("the packet pipe's write end no longer writes packets");
    if (read(st[0], buf, sizeof buf) != 5 || memcmp(buf, "fghij", 5)) fail("the plain pipe's bytes did not come in one read");
    printf("PASS\n");
    return 0;
}
