/*
 * inotify watches through a dump and a restore. Arguments: a directory, and "idle" or "queued".
 * It watches the directory (IN_CREATE|IN_DELETE) and a file in it (IN_MODIFY|IN_ONESHOT|
 * IN_EXCL_UNLINK), with a removed watch in between so the wds have a gap (1, 3), and a second,
 * blocking instance at fd 77 with a watch on the directory (IN_ATTRIB); the queue is drained, so it
 * is empty at the dump ("queued" leaves two events unread instead: the dump must refuse it, and
 * the check drains them first).
 * On SIGUSR2 it checks the queues are empty, creates a file in the directory and writes the watched
 * file, and expects IN_CREATE with the directory's wd and the name, then IN_MODIFY with the file's wd;
 * prints PASS wd=<dir>,<file> or FAIL: reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "workload.h"

static void drain(int fd) {
    char buf[4096];
    while (read(fd, buf, sizeof buf) > 0) {
    }
}

static int pending(int fd) {
    int n = -1;
    if (ioctl(fd, FIONREAD, &n) < 0) fail("FIONREAD");
    return n;
}

/* Waits for one event and checks its wd, mask bit and (if given) name. */
static void expect(int fd, int wd, unsigned bit, const char *name) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 2000) != 1) {
        printf("FAIL: no event for wd %d mask %#x\n", wd, bit);
        exit(1);
    }
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < (ssize_t)sizeof(struct inotify_event)) fail("read event");
    struct inotify_event *e = (struct inotify_event *)buf;
    if (e->wd != wd || !(e->mask & bit) || (name && strcmp(e->name, name) != 0)) {
        printf("FAIL: event wd %d mask %#x name '%s', expected wd %d mask %#x name '%s'\n", e->wd, e->mask,
               e->len ? e->name : "", wd, bit, name ? name : "");
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc < 3) fail("usage: inotify DIR idle|queued");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    char file[4096], other[4096], created[4096];
    snprintf(file, sizeof file, "%s/watched", argv[1]);
    snprintf(other, sizeof other, "%s/other", argv[1]);
    snprintf(created, sizeof created, "%s/created", argv[1]);
    close(open(file, O_CREAT | O_WRONLY, 0644));
    close(open(other, O_CREAT | O_WRONLY, 0644));

    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) fail("inotify_init1");
    int wdir = inotify_add_watch(fd, argv[1], IN_CREATE | IN_DELETE);
    int gone = inotify_add_watch(fd, other, IN_OPEN);
    int wfile = inotify_add_watch(fd, file, IN_MODIFY | IN_ONESHOT | IN_EXCL_UNLINK);
    if (wdir < 0 || gone < 0 || wfile < 0) fail("inotify_add_watch");
    if (inotify_rm_watch(fd, gone) < 0) fail("inotify_rm_watch");
    int blocking = inotify_init();
    if (blocking < 0 || dup2(blocking, 77) != 77) fail("second instance");
    close(blocking);
    if (inotify_add_watch(77, argv[1], IN_ATTRIB) < 0) fail("watch on 77");
    drain(fd);
    int queued = strcmp(argv[2], "queued") == 0;
    if (queued) {
        close(open(created, O_CREAT | O_WRONLY, 0644));
        unlink(created); /* queues IN_DELETE too */
    }
    printf("ready\n");
    while (!check) pause();
    if (queued) drain(fd); /* the refused dump left them unread */

    if (pending(fd) != 0 || pending(77) != 0) fail("events queued after the restore");
    close(open(created, O_CREAT | O_WRONLY, 0644));
    expect(fd, wdir, IN_CREATE, "created");
    int w = open(file, O_WRONLY);
    if (w < 0 || write(w, "x", 1) != 1) fail("write watched file");
    close(w);
    expect(fd, wfile, IN_MODIFY, NULL);
    printf("PASS wd=%d,%d\n", wdir, wfile);
    return 0;
}
