/*
 * A witness of wall-clock sets, outside the dumped tree: a CLOCK_REALTIME timerfd armed with
 * TFD_TIMER_CANCEL_ON_SET far ahead; each read that fails with ECANCELED means the clock was set
 * (settimeofday, an NTP step, a VM resumed), and prints "clock set". A test whose workload must
 * tell a clock set from a restore's mistake asks it. Prints "watching" once armed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static int arm(void) {
    int fd = timerfd_create(CLOCK_REALTIME, 0);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct itimerspec at = {{0, 0}, {now.tv_sec + 30 * 24 * 3600, 0}};
    if (fd < 0 || timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &at, NULL)) {
        perror("timerfd");
        _exit(1);
    }
    return fd;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int fd = arm();
    printf("watching\n");
    for (;;) {
        uint64_t ticks;
        if (read(fd, &ticks, sizeof ticks) < 0 && errno == ECANCELED) printf("clock set\n");
        close(fd);
        fd = arm();
    }
}
