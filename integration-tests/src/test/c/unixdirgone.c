/*
 * Unix sockets bound in directories removed since, with their socket files (zdtm's sk-unix01 was
 * refused: "its directory ... was removed too"; a stream listener so bound dumped, and its restore
 * failed with ENOENT after the dump had killed the tree): in DIR/dg two datagram servers bound one
 * after the other to the same name (each file removed before the next bind), each with a client
 * connected to it and a datagram from that client unread, and a datagram pair whose ends were both
 * bound to one name; in DIR/st a stream listener with an accepted connection holding unread bytes.
 * On SIGUSR2 each server must read its own client's datagrams, before and after the restore, every
 * socket keep its name, and DIR must be empty (no directory or socket file made again). argv[1]:
 * DIR. Prints PASS or FAIL.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "workload.h"

static struct sockaddr_un at(const char *dir, const char *name) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/%s", dir, name);
    return a;
}

static void expect(int s, const char *want, const char *what) {
    char buf[64] = {0};
    if (recv(s, buf, sizeof buf - 1, MSG_DONTWAIT) != (ssize_t)strlen(want) || strcmp(buf, want)) {
        printf("FAIL: %s: read '%s', not '%s' (errno %d)\n", what, buf, want, errno);
        exit(1);
    }
}

static void named(int s, const struct sockaddr_un *want, const char *what) {
    struct sockaddr_un a;
    socklen_t len = sizeof a;
    if (getsockname(s, (void *)&a, &len) || strcmp(a.sun_path, want->sun_path)) {
        printf("FAIL: %s is named '%s', not '%s'\n", what, a.sun_path, want->sun_path);
        exit(1);
    }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2) fail("usage: unixdirgone DIR");
    char dg[200], st[200];
    snprintf(dg, sizeof dg, "%s/dg", argv[1]);
    snprintf(st, sizeof st, "%s/st", argv[1]);
    if (mkdir(dg, 0755) || mkdir(st, 0755)) fail("mkdir");
    struct sockaddr_un srv = at(dg, "srv"), pr = at(dg, "pair"), lis = at(st, "lis");
    int a = socket(AF_UNIX, SOCK_DGRAM, 0), b = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (bind(a, (void *)&srv, sizeof srv) || connect(b, (void *)&srv, sizeof srv) || send(b, "one", 3, 0) != 3) fail("first server");
    if (unlink(srv.sun_path)) fail("unlink the first server's file");
    int c = socket(AF_UNIX, SOCK_DGRAM, 0), d = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (bind(c, (void *)&srv, sizeof srv) || connect(d, (void *)&srv, sizeof srv) || send(d, "two", 3, 0) != 3) fail("second server");
    if (unlink(srv.sun_path)) fail("unlink the second server's file");
    int p[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, p) || bind(p[0], (void *)&pr, sizeof pr) || unlink(pr.sun_path)
        || bind(p[1], (void *)&pr, sizeof pr) || unlink(pr.sun_path) || send(p[1], "pair", 4, 0) != 4) fail("pair");
    int l = socket(AF_UNIX, SOCK_STREAM, 0), k = socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(l, (void *)&lis, sizeof lis) || listen(l, 4) || connect(k, (void *)&lis, sizeof lis)) fail("listener");
    int s = accept(l, NULL, NULL);
    if (s < 0 || send(k, "st", 2, 0) != 2 || unlink(lis.sun_path)) fail("accept");
    if (rmdir(dg) || rmdir(st)) fail("rmdir");
    printf("ready\n");
    while (!check) pause();
    expect(a, "one", "the first server's queued datagram");
    expect(c, "two", "the second server's queued datagram");
    expect(p[0], "pair", "the pair's queued datagram");
    expect(s, "st", "the accepted connection's unread bytes");
    if (send(b, "b", 1, 0) != 1 || send(d, "d", 1, 0) != 1 || send(p[0], "q", 1, 0) != 1 || send(s, "s", 1, 0) != 1)
        fail("send after the restore");
    expect(a, "b", "the first server from its client");
    expect(c, "d", "the second server from its client");
    expect(p[1], "q", "the pair's other end");
    expect(k, "s", "the stream client");
    named(a, &srv, "the first server");
    named(c, &srv, "the second server");
    named(p[0], &pr, "a pair end");
    named(p[1], &pr, "the other pair end");
    named(l, &lis, "the listener");
    DIR *dir = opendir(argv[1]);
    if (!dir) fail("opendir DIR");
    for (struct dirent *e; (e = readdir(dir));) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            printf("FAIL: %s/%s is there after the restore\n", argv[1], e->d_name);
            return 1;
        }
    }
    printf("PASS\n");
    return 0;
}
