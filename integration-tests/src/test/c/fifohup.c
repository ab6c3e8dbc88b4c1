/*
 * The hang-up state of FIFO readers (zdtm's fifo_ro_nonblock found it wrong). Argument: DIR.
 *   - DIR/quiet: opened for reading with O_NONBLOCK before any writer came (how openrc-init holds
 *     its control FIFO), twice, and given a 1 MiB buffer: poll must not report POLLHUP, or a
 *     program polling it spins. It came back hung up, as if a writer had come and gone.
 *   - DIR/hup: a reader whose writer came and went: it reports POLLHUP and reads end of file.
 *   - DIR/busy: a reader with a writer of its own holding 5 bytes: no POLLHUP, the bytes readable.
 * Prints "ready" and waits for SIGUSR2, then checks all that, and that a writer opening DIR/quiet
 * afterwards reaches both its readers. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

static int hup(int fd) {
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, 50) < 0) fail("poll");
    return (p.revents & POLLHUP) != 0;
}

static int reader(const char *dir, const char *name, int make) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (make && mkfifo(path, 0600)) fail("mkfifo");
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) fail("open for reading");
    return fd;
}

static int writer(const char *dir, const char *name) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_NONBLOCK);
    if (fd < 0) fail("open for writing");
    return fd;
}

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: fifohup DIR");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int quiet = reader(argv[1], "quiet", 1), quiet2 = reader(argv[1], "quiet", 0);
    if (fcntl(quiet, F_SETPIPE_SZ, 1 << 20) < 0) fail("F_SETPIPE_SZ");
    int hung = reader(argv[1], "hup", 1);
    close(writer(argv[1], "hup"));
    int busy = reader(argv[1], "busy", 1), busyw = writer(argv[1], "busy");
    if (write(busyw, "bytes", 5) != 5) fail("write");
    if (hup(quiet) || hup(quiet2) || !hup(hung) || hup(busy)) fail("not as expected before the dump");
    printf("ready\n");
    while (!check) pause();

    if (hup(quiet)) { printf("FAIL: the FIFO no writer ever opened reports POLLHUP\n"); return 1; }
    if (hup(quiet2)) { printf("FAIL: its second reader reports POLLHUP\n"); return 1; }
    if (fcntl(quiet, F_GETPIPE_SZ) != 1 << 20) fail("the buffer size is lost");
    if (!hup(hung)) { printf("FAIL: the FIFO whose writer left does not report POLLHUP\n"); return 1; }
    char buf[8];
    if (read(hung, buf, sizeof buf) != 0) fail("the FIFO whose writer left does not read end of file");
    if (hup(busy)) fail("the FIFO with a writer reports POLLHUP");
    if (read(busy, buf, sizeof buf) != 5 || memcmp(buf, "bytes", 5)) fail("the 5 bytes are lost");
    int w = writer(argv[1], "quiet");
    if (write(w, "ab", 2) != 2) fail("write to the quiet FIFO");
    if (read(quiet, buf, 1) != 1 || read(quiet2, buf + 1, 1) != 1 || memcmp(buf, "ab", 2)) fail("the quiet FIFO's readers do not read");
    printf("PASS\n");
    return 0;
}
