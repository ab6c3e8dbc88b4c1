/*
 * An inotify watch on files of a mount only a child's mount namespace has, as zdtm's inotify01: run as
 * `nestedwatch DIR` (an empty directory), its child takes a mount namespace of its own, mounts a tmpfs on DIR
 * there, keeps it open as fd 100 and makes DIR/f and DIR/h; the parent watches the directory and DIR/f
 * through /proc/CHILD/fd/100 and holds DIR/h open. The dump refused the watches ("cannot be found by its file
 * handle (no mount of that device here)") and the fd ("on a mount that is not attached"). After the restore
 * the parent writes "x" through its fd; on SIGUSR2 the child checks DIR/h holds it, makes DIR/g and removes
 * DIR/f, and the parent checks that its watches saw that: IN_CREATE g and IN_DELETE f on the directory's
 * watch, IN_ATTRIB on the file's. Prints PASS or
 * FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"
#include "childcheck.h"

static const char *dir;

static void child(int ready) {
    if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) fail("child: a mount namespace");
    if (mount("nestedwatch", dir, "tmpfs", 0, NULL)) fail("child: mount tmpfs");
    int d = open(dir, O_RDONLY | O_DIRECTORY);
    if (d < 0 || dup2(d, 100) != 100) fail("child: fd 100");
    close(d);
    if (close(openat(100, "f", O_CREAT | O_WRONLY, 0644)) || close(openat(100, "h", O_CREAT | O_WRONLY, 0644)))
        fail("child: DIR/f, DIR/h");
    if (write(ready, "c", 1) != 1) fail("ready");
    while (!check) pause();
    if (close(openat(100, "g", O_CREAT | O_WRONLY, 0644)) || unlinkat(100, "f", 0)) fail("child: DIR/g, DIR/f");
    char b[4] = {0};
    int h = openat(100, "h", O_RDONLY);
    if (h < 0 || read(h, b, sizeof b) != 1 || b[0] != 'x') fail("child: DIR/h lacks what the parent wrote through its fd");
    _exit(0);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) fail("usage: nestedwatch DIR");
    dir = argv[1];
    signal(SIGUSR2, on_usr2);
    pid_t c = fork_ready(child);
    char path[64], file[80], held[80];
    snprintf(path, sizeof path, "/proc/%d/fd/100", c);
    snprintf(file, sizeof file, "%s/f", path);
    snprintf(held, sizeof held, "%s/h", path);
    int hfd = open(held, O_WRONLY);
    if (hfd < 0) fail("open DIR/h through the child's fd");
    int in = inotify_init1(IN_NONBLOCK);
    if (in < 0) fail("inotify_init1");
    int wd = inotify_add_watch(in, path, IN_CREATE | IN_DELETE), wf = inotify_add_watch(in, file, IN_ATTRIB);
    if (wd < 0 || wf < 0) fail("inotify_add_watch");
    printf("ready\n");
    while (!check) pause();
    if (write(hfd, "x", 1) != 1) fail("write DIR/h");
    kill(c, SIGUSR2);
    int status;
    if (waitpid(c, &status, 0) != c || !WIFEXITED(status) || WEXITSTATUS(status)) fail("the child failed");
    char buf[4096] __attribute__((aligned(8)));
    ssize_t n = read(in, buf, sizeof buf);
    int created = 0, deleted = 0, attrib = 0;
    for (char *p = buf; n > 0 && p < buf + n;) {
        struct inotify_event *e = (struct inotify_event *) p;
        if (e->wd == wd && (e->mask & IN_CREATE) && e->len && !strcmp(e->name, "g")) created = 1;
        if (e->wd == wd && (e->mask & IN_DELETE) && e->len && !strcmp(e->name, "f")) deleted = 1;
        if (e->wd == wf && (e->mask & IN_ATTRIB)) attrib = 1;
        p += sizeof *e + e->len;
    }
    if (!created || !deleted || !attrib) {
        printf("FAIL: events read %zd bytes: created g %d, deleted f %d, f's attrib %d\n", n, created, deleted, attrib);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
