/*
 * timerfds set with an absolute time: one on CLOCK_REALTIME with TFD_TIMER_CANCEL_ON_SET (how
 * systemd and calendar daemons learn that the wall clock was set) due in an hour, one on
 * CLOCK_MONOTONIC due in half an hour every minute. On SIGUSR2 it checks that both still carry
 * their settime flags (fdinfo "settime flags") and that the realtime one is still due at the very
 * wall-clock time it was given (now + time left, within a second). zdtm's timerfd found it: the
 * restore armed them relative, without flags. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

/* fdinfo's "settime flags" (octal) and it_value (time left) of fd */
static int fdinfo(int fd, long *left_sec) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
    FILE *f = fopen(path, "r");
    int flags = -1;
    long nsec;
    while (f && fgets(line, sizeof line, f)) {
        sscanf(line, "settime flags: %o", &flags);
        sscanf(line, "it_value: (%ld, %ld)", left_sec, &nsec);
    }
    if (f) fclose(f);
    return flags;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int rt = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK), mono = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    if (rt < 0 || mono < 0) fail("timerfd_create");
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    time_t due = now.tv_sec + 3600;
    struct itimerspec at = {{0, 0}, {due, 0}};
    if (timerfd_settime(rt, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &at, NULL)) fail("timerfd_settime(realtime)");
    clock_gettime(CLOCK_MONOTONIC, &now);
    struct itimerspec every = {{60, 0}, {now.tv_sec + 1800, 0}};
    if (timerfd_settime(mono, TFD_TIMER_ABSTIME, &every, NULL)) fail("timerfd_settime(monotonic)");
    printf("ready\n");
    while (!check) pause();
    long left = -1, mleft = -1;
    int rflags = fdinfo(rt, &left), mflags = fdinfo(mono, &mleft);
    clock_gettime(CLOCK_REALTIME, &now);
    if (rflags != (TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) || mflags != TFD_TIMER_ABSTIME) {
        printf("FAIL: settime flags %o and %o, set %o and %o\n", rflags, mflags,
               TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, TFD_TIMER_ABSTIME);
        return 1;
    }
    long off = now.tv_sec + left - due;
    if (off < -1 || off > 1) {
        printf("FAIL: the realtime timer is due at %ld, set for %ld\n", (long)(now.tv_sec + left), (long)due);
        return 1;
    }
    if (mleft <= 0 || mleft > 1800) { printf("FAIL: the monotonic timer has %ld s left\n", mleft); return 1; }
    uint64_t ticks;
    if (read(rt, &ticks, sizeof ticks) >= 0) fail("the realtime timer fired");
    /* the kernel tells of a clock set since the restore armed it again: the test asks a witness */
    if (errno == ECANCELED) { printf("FAIL: the realtime timer was cancelled by a clock set\n"); return 1; }
    if (errno != EAGAIN) fail("read(realtime timerfd)");
    printf("PASS\n");
    return 0;
}
