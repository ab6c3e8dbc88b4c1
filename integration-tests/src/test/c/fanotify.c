/*
 * fanotify marks through a dump and a restore. Arguments: a directory holding a bind mount "mnt"
 * and a tmpfs "fs" (the test mounts them), and "idle" or "queued". At fd 40, a FAN_CLASS_NOTIF
 * group (FAN_NONBLOCK|FAN_CLOEXEC, event_f_flags O_RDONLY|O_LARGEFILE) marks the file "watched"
 * (FAN_MODIFY|FAN_CLOSE_WRITE, ignored FAN_OPEN surviving modification), the mount "mnt"
 * (FAN_CLOSE_WRITE) and the filesystem "fs" (FAN_MODIFY). The queue is empty at the dump ("queued"
 * leaves events unread instead: the dump must refuse them, and the check drains them first).
 * On SIGUSR2 it writes the watched file, a file through the mount and a file on the tmpfs, and
 * expects the three events, each naming the right file; prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

enum { GROUP = 40 };

static void drain(void) {
    char buf[4096];
    ssize_t n;
    while ((n = read(GROUP, buf, sizeof buf)) > 0) {
        struct fanotify_event_metadata *m = (struct fanotify_event_metadata *)buf;
        for (; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n)) {
            if (m->fd >= 0) close(m->fd);
        }
    }
}

static void touch(const char *path) {
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    if (fd < 0 || write(fd, "x", 1) != 1) fail(path);
    close(fd);
}

static ino_t ino_of(const char *path) {
    struct stat st;
    if (stat(path, &st) < 0) fail(path);
    return st.st_ino;
}

int main(int argc, char **argv) {
    if (argc < 3) fail("usage: fanotify DIR idle|queued");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    char watched[4096], mnt[4096], viamnt[4096], fs[4096], onfs[4096];
    snprintf(watched, sizeof watched, "%s/watched", argv[1]);
    snprintf(mnt, sizeof mnt, "%s/mnt", argv[1]);
    snprintf(viamnt, sizeof viamnt, "%s/mnt/f", argv[1]);
    snprintf(fs, sizeof fs, "%s/fs", argv[1]);
    snprintf(onfs, sizeof onfs, "%s/fs/g", argv[1]);
    touch(watched);
    touch(viamnt);
    touch(onfs);

    int g = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK | FAN_CLOEXEC, O_RDONLY | O_LARGEFILE);
    if (g < 0 || dup3(g, GROUP, O_CLOEXEC) != GROUP) fail("fanotify_init");
    close(g);
    if (fanotify_mark(GROUP, FAN_MARK_ADD, FAN_MODIFY | FAN_CLOSE_WRITE, AT_FDCWD, watched) < 0) fail("inode mark");
    if (fanotify_mark(GROUP, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY, FAN_OPEN, AT_FDCWD,
                      watched) < 0) fail("ignored mask");
    if (fanotify_mark(GROUP, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_CLOSE_WRITE, AT_FDCWD, mnt) < 0) fail("mount mark");
    if (fanotify_mark(GROUP, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_MODIFY, AT_FDCWD, fs) < 0) fail("filesystem mark");
    drain();
    int queued = strcmp(argv[2], "queued") == 0;
    if (queued) touch(watched);
    printf("ready\n");
    while (!check) pause();
    if (queued) drain();

    int n = -1;
    if (ioctl(GROUP, FIONREAD, &n) < 0 || n != 0) fail("events queued after the restore");
    if ((fcntl(GROUP, F_GETFL) & (O_NONBLOCK | O_ACCMODE)) != (O_NONBLOCK | O_RDWR)) fail("group fd flags");
    touch(watched);
    touch(viamnt);
    touch(onfs);
    ino_t want_watched = ino_of(watched), want_mnt = ino_of(viamnt), want_fs = ino_of(onfs);
    int seen_modify = 0, seen_close = 0, seen_mnt = 0, seen_fs = 0;
    char buf[8192] __attribute__((aligned(8)));
    for (int tries = 0; tries < 20 && !(seen_modify && seen_close && seen_mnt && seen_fs); tries++) {
        struct pollfd p = {.fd = GROUP, .events = POLLIN};
        if (poll(&p, 1, 200) != 1) continue;
        ssize_t len = read(GROUP, buf, sizeof buf);
        struct fanotify_event_metadata *m = (struct fanotify_event_metadata *)buf;
        for (; FAN_EVENT_OK(m, len); m = FAN_EVENT_NEXT(m, len)) {
            struct stat st;
            if (m->fd < 0 || fstat(m->fd, &st) < 0) fail("event fd");
            if (st.st_ino == want_watched) {
                seen_modify |= (m->mask & FAN_MODIFY) != 0;
                seen_close |= (m->mask & FAN_CLOSE_WRITE) != 0;
                if (m->mask & FAN_OPEN) fail("FAN_OPEN reported despite the ignored mask");
            } else if (st.st_ino == want_mnt) {
                seen_mnt |= (m->mask & FAN_CLOSE_WRITE) != 0;
            } else if (st.st_ino == want_fs) {
                seen_fs |= (m->mask & FAN_MODIFY) != 0;
            }
            close(m->fd);
        }
    }
    if (!(seen_modify && seen_close && seen_mnt && seen_fs)) {
        printf("FAIL: events seen: modify=%d close_write=%d mount=%d filesystem=%d\n", seen_modify, seen_close,
               seen_mnt, seen_fs);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
