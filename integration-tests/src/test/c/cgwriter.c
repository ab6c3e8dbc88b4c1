/*
 * cgwriter — a task that keeps changing a setting of its own cgroup, up to the freeze.
 *
 * Usage: cgwriter <setting file>   (e.g. /sys/fs/cgroup/pids/X/pids.max)
 *
 * Writes 1000, 1001, ... to the file, one a millisecond, and prints "ready" after the first. Before
 * each write it reads the file back: it must hold the last value written (or the one being written
 * when the task was frozen). A dump that read the cgroup's settings before the freeze and kept them
 * although they changed since brings back an older value, and the restored task stops writing and
 * answers SIGUSR2 with "FAIL: ..."; else with "PASS value=<v>".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t check_requested;

static void on_usr2(int sig) { (void)sig; check_requested = 1; }

static long read_value(const char *file)
{
    char buf[64] = {0};
    int fd = open(file, O_RDONLY);
    if (fd < 0 || read(fd, buf, sizeof buf - 1) <= 0) {
        return -1;
    }
    close(fd);
    return strtol(buf, NULL, 10);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: cgwriter <setting file>\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGUSR2, on_usr2);
    volatile long pending = 0, last = 0;
    long wrong = -1;
    for (long v = 1000; !check_requested; v++) {
        long now = read_value(argv[1]);
        if (v > 1000 && now != last && now != pending) {
            wrong = now; /* no more writes: the check tells */
            break;
        }
        char text[32];
        int len = snprintf(text, sizeof text, "%ld", v);
        pending = v; /* frozen inside the write: the file holds v or the value before */
        int fd = open(argv[1], O_WRONLY);
        if (fd < 0 || write(fd, text, len) != len) {
            printf("FAIL: cannot write %s to %s\n", text, argv[1]);
            return 1;
        }
        close(fd);
        last = v;
        if (v == 1000) {
            printf("ready\n");
        }
        usleep(1000);
    }
    while (!check_requested) {
        pause();
    }
    if (wrong >= 0) {
        printf("FAIL: %s held %ld, but the last value written was %ld\n", argv[1], wrong, last);
        return 1;
    }
    printf("PASS value=%ld\n", read_value(argv[1]));
    return 0;
}
