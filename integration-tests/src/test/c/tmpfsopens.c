/*
 * Watches that see every open of a tmpfs of the tree's own mount namespace. Argument: the directory
 * the tmpfs is mounted on. An inotify instance watches the directory for IN_OPEN|IN_ACCESS|
 * IN_CLOSE_NOWRITE and a fanotify group marks its mount for FAN_OPEN|FAN_CLOSE_NOWRITE; both are
 * drained, so they are empty at the dump (the dump reads the tmpfs's files to make it again: the
 * events of its own must not count as the program's, nor come back with it).
 * On SIGUSR2 it checks both queues are empty, reads the file "data" and expects IN_OPEN for "data"
 * and FAN_OPEN on that file; prints PASS or FAIL: reason. A second argument other than "fanotify" is ignored.
 * "tmpfsopens DIR fanotify": no inotify watch (a directory's watch sees its files' opens on any mount), and the
 * fanotify group also marks an empty file "empty" for FAN_OPEN|FAN_CLOSE (zdtm's fanotify00); for a dump that
 * leaves the tree running, whose reads of the tmpfs must queue nothing for the program.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "workload.h"

static void drain(int fd) {
    char buf[4096] __attribute__((aligned(8)));
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        if (fd > 2 && n >= (ssize_t)sizeof(struct fanotify_event_metadata)) {
            struct fanotify_event_metadata *m = (void *)buf;
            if (m->vers == FANOTIFY_METADATA_VERSION && m->fd >= 0) close(m->fd);
        }
    }
}

static int pending(int fd) {
    int n = -1;
    if (ioctl(fd, FIONREAD, &n) < 0) fail("FIONREAD");
    return n;
}

static void await(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 5000) != 1) fail("no event");
}

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: tmpfsopens DIR");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    char data[4096];
    snprintf(data, sizeof data, "%s/data", argv[1]);
    int w = open(data, O_CREAT | O_WRONLY, 0644);
    if (w < 0 || write(w, "tmpfs\n", 6) != 6) fail("write data");
    close(w);
    int fanotify_only = argc > 2 && strcmp(argv[2], "fanotify") == 0;
    int in = fanotify_only ? -1 : inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (!fanotify_only && (in < 0 || inotify_add_watch(in, argv[1], IN_OPEN | IN_ACCESS | IN_CLOSE_NOWRITE) < 0))
        fail("inotify");
    int fa = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK | FAN_CLOEXEC, O_RDONLY | O_LARGEFILE);
    if (fa < 0 || fanotify_mark(fa, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_OPEN | FAN_CLOSE_NOWRITE, AT_FDCWD, argv[1]) < 0)
        fail("fanotify");
    if (fanotify_only) {
        char empty[4096];
        snprintf(empty, sizeof empty, "%s/empty", argv[1]);
        int e = open(empty, O_CREAT | O_WRONLY, 0644);
        if (e < 0 || close(e) || fanotify_mark(fa, FAN_MARK_ADD, FAN_OPEN | FAN_ACCESS | FAN_CLOSE, AT_FDCWD, empty) < 0)
            fail("fanotify mark on empty");
    }
    if (in >= 0) drain(in);
    drain(fa);
    printf("ready\n");
    while (!check) pause();

    if (in >= 0 && pending(in) != 0) fail("inotify events queued after the restore");
    if (pending(fa) != 0) fail("fanotify events queued after the restore");
    int r = open(data, O_RDONLY);
    char buf[16];
    if (r < 0 || read(r, buf, sizeof buf) != 6 || memcmp(buf, "tmpfs\n", 6) != 0) fail("read data");
    close(r);
    char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    struct inotify_event *e = (void *)ev;
    if (in >= 0) {
        await(in);
        if (read(in, ev, sizeof ev) < (ssize_t)sizeof *e || !(e->mask & IN_OPEN) || strcmp(e->name, "data") != 0)
            fail("expected IN_OPEN for data");
    }
    await(fa);
    struct fanotify_event_metadata m[4];
    if (read(fa, m, sizeof m) < (ssize_t)sizeof m[0] || !(m[0].mask & FAN_OPEN) || m[0].fd < 0) fail("expected FAN_OPEN");
    char link[64], path[4096] = "";
    snprintf(link, sizeof link, "/proc/self/fd/%d", m[0].fd);
    if (readlink(link, path, sizeof path - 1) < 0 || strcmp(path, data) != 0) {
        printf("FAIL: FAN_OPEN on '%s', expected '%s'\n", path, data);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
