/*
 * An inotify watch on a file deleted since, which the program still holds open (CRIU's zdtm
 * inotify00). Argument: DIR. Watches DIR (wd 1: IN_CREATE|IN_DELETE) and DIR/gone (wd 2:
 * IN_MODIFY|IN_ATTRIB|IN_CLOSE_WRITE|IN_DELETE_SELF), holds DIR/gone open for writing with "abc" in
 * it, unlinks it and reads the events that caused. Prints "ready" and waits for SIGUSR2, then checks:
 * no event is queued (the restore made none), the fd still names "DIR/gone (deleted)" with no link
 * and "abc" in it; a write gives IN_MODIFY on wd 2, the close IN_CLOSE_WRITE then IN_DELETE_SELF and
 * IN_IGNORED on wd 2 (the watch was on that very file), and a new file in DIR IN_CREATE on wd 1.
 * Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

static char buf[4096] __attribute__((aligned(8)));
static int len, off;

/* the next event, read from the (non-blocking) instance, waiting up to a second for one */
static struct inotify_event *next(int in) {
    if (off >= len) {
        struct pollfd p = {.fd = in, .events = POLLIN};
        if (poll(&p, 1, 1000) != 1) return NULL;
        len = read(in, buf, sizeof buf);
        off = 0;
        if (len <= 0) return NULL;
    }
    struct inotify_event *e = (struct inotify_event *)(buf + off);
    off += sizeof *e + e->len;
    return e;
}

static void expect(int in, int wd, unsigned mask, const char *name, const char *what) {
    struct inotify_event *e = next(in);
    if (!e) fail(what);
    if (e->wd != wd || e->mask != mask || (name && strcmp(e->name, name))) {
        printf("FAIL: %s: got wd %d mask %#x name '%s'\n", what, e->wd, e->mask, e->len ? e->name : "");
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: inotifygone DIR");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    char dir[PATH_MAX], path[PATH_MAX + 16];
    if (!realpath(argv[1], dir)) fail("realpath");
    snprintf(path, sizeof path, "%s/gone", dir);
    int in = inotify_init1(IN_NONBLOCK);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
    if (in < 0 || fd < 0 || write(fd, "abc", 3) != 3) fail("setup");
    if (inotify_add_watch(in, dir, IN_CREATE | IN_DELETE) != 1) fail("watch DIR");
    if (inotify_add_watch(in, path, IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_DELETE_SELF) != 2) fail("watch gone");
    if (unlink(path) < 0) fail("unlink");
    expect(in, 2, IN_ATTRIB, NULL, "no IN_ATTRIB for the unlink");
    expect(in, 1, IN_DELETE, "gone", "no IN_DELETE for the unlink");
    if (next(in)) fail("more events than the unlink's");
    printf("ready\n");
    while (!check) pause();
    int n = -1;
    if (ioctl(in, FIONREAD, &n) < 0 || n != 0) {
        struct inotify_event *e = next(in);
        printf("FAIL: %d bytes of events queued after the restore (wd %d mask %#x)\n", n, e ? e->wd : 0, e ? e->mask : 0);
        return 1;
    }
    char link[64], target[PATH_MAX + 32], want[PATH_MAX + 32];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t l = readlink(link, target, sizeof target - 1);
    if (l < 0) fail("readlink");
    target[l] = 0;
    snprintf(want, sizeof want, "%s (deleted)", path);
    if (strcmp(target, want)) {
        printf("FAIL: the fd names %s, not %s\n", target, want);
        return 1;
    }
    struct stat st;
    char got[4] = {0};
    if (fstat(fd, &st) < 0 || st.st_nlink != 0 || pread(fd, got, 3, 0) != 3 || memcmp(got, "abc", 3)) fail("the file changed");
    if (write(fd, "d", 1) != 1) fail("write");
    expect(in, 2, IN_MODIFY, NULL, "no IN_MODIFY on the deleted file's watch");
    close(fd);
    expect(in, 2, IN_CLOSE_WRITE, NULL, "no IN_CLOSE_WRITE on the deleted file's watch");
    expect(in, 2, IN_DELETE_SELF, NULL, "no IN_DELETE_SELF once the deleted file is closed");
    expect(in, 2, IN_IGNORED, NULL, "no IN_IGNORED once the deleted file is gone");
    snprintf(path, sizeof path, "%s/new", dir);
    int nf = open(path, O_WRONLY | O_CREAT, 0644);
    if (nf < 0) fail("create");
    close(nf);
    expect(in, 1, IN_CREATE, "new", "no IN_CREATE on the directory's watch");
    if (next(in)) fail("an event too many");
    printf("PASS\n");
    return 0;
}
