/*
 * unixgonepeer — unix stream (or, with "seqpacket", seqpacket) ends whose peer has closed, each still naming
 * that peer: getpeername() gives the gone peer's name (the kernel keeps the peer until the end closes). A
 * restore made each end again with no peer name ("unbound"). argv[2] is a directory for the path names.
 *  a: a socketpair end, autobound itself, whose peer autobound (its name "\0xxxxx") and closed, nothing unread:
 *     the end (EOF).
 *  b: a socketpair end whose peer bound an abstract name, sent "hi" and closed with a byte of a's unread:
 *     "hi", ECONNRESET (seqpacket: ECONNRESET first), then the end.
 *  c: a socketpair end whose peer bound a path (its file left behind) and closed.
 *  d: a client of a listener of the tree (abstract name) whose accepted end was closed: it names the listener.
 *  e: the accepted end of that listener whose client autobound and closed: it names the client's autobind name.
 *  g: another accepted end of it whose client had bound a path (its file left behind) and closed.
 *  h: a client bound to a path of its own (its file there, mode 0640) whose accepted end closed: it keeps its name.
 *  f: a client of a listener bound to a path whose connection was never accepted, the listener closed and its
 *     file removed: it names that path, ECONNRESET, then the end.
 * Prints "ready"; on SIGUSR2 each end names its gone peer as before and reads as above: "PASS" or "FAIL: why".
 */
#define _GNU_SOURCE
#include "workload.h"
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

static int type = SOCK_STREAM;

struct end {
    const char *what;
    int fd;
    const char *own; /* its own bytes unread, "" none */
    int reset;       /* ECONNRESET pending */
    struct sockaddr_un peer;
    socklen_t peer_len;
    char own_name[108]; /* its own path, "" none checked */
};

static struct end ends[8];
static int n_ends;

static socklen_t name_of(struct sockaddr_un *a, const char *dir, const char *name, int abstract)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    if (abstract) {
        snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "cryo-gone-%s-%d", name, getpid());
        return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a->sun_path + 1);
    }
    snprintf(a->sun_path, sizeof a->sun_path, "%s/%s.sock", dir, name);
    return offsetof(struct sockaddr_un, sun_path) + strlen(a->sun_path) + 1;
}

static void keep(const char *what, int fd, const char *own, int reset)
{
    struct end *e = &ends[n_ends++];
    e->what = what;
    e->fd = fd;
    e->own = own;
    e->reset = reset;
    e->peer_len = sizeof e->peer;
    if (getpeername(fd, (struct sockaddr *)&e->peer, &e->peer_len)) fail(what);
    if (e->peer_len <= offsetof(struct sockaddr_un, sun_path)) {
        printf("FAIL: %s names no peer before the dump\n", what);
        exit(1);
    }
}

/* a socketpair end whose other end binds to (addr, len) (len 2: autobind), sends own, and closes */
static int orphan(struct sockaddr_un *addr, socklen_t len, const char *own, int unread, int autobind)
{
    int sk[2];
    struct sockaddr_un any = {.sun_family = AF_UNIX};
    if (socketpair(AF_UNIX, type, 0, sk)) fail("socketpair");
    if (autobind && bind(sk[0], (struct sockaddr *)&any, sizeof(sa_family_t))) fail("autobind");
    if (bind(sk[1], (struct sockaddr *)addr, len)) fail("bind the peer");
    if (*own && write(sk[1], own, strlen(own)) != (ssize_t)strlen(own)) fail("write");
    if (unread && write(sk[0], "x", 1) != 1) fail("write x");
    close(sk[1]);
    return sk[0];
}

static void expect_reset(struct end *e)
{
    char c;
    if (recv(e->fd, &c, 1, MSG_DONTWAIT) != -1 || errno != ECONNRESET) {
        printf("FAIL: %s: a receive did not return ECONNRESET (%s)\n", e->what, strerror(errno));
        exit(1);
    }
}

static void check_end(struct end *e)
{
    struct sockaddr_un now;
    socklen_t len = sizeof now;
    if (e->own_name[0] && (getsockname(e->fd, (struct sockaddr *)&now, &len) || strcmp(now.sun_path, e->own_name))) {
        printf("FAIL: %s: getsockname gives '%s' where it gave '%s'\n", e->what, now.sun_path, e->own_name);
        exit(1);
    }
    struct stat st;
    if (e->own_name[0] && (stat(e->own_name, &st) || !S_ISSOCK(st.st_mode) || (st.st_mode & 0777) != 0640)) {
        printf("FAIL: %s: its socket file %s is not there as it was (mode %o)\n", e->what, e->own_name, st.st_mode);
        exit(1);
    }
    len = sizeof now;
    if (getpeername(e->fd, (struct sockaddr *)&now, &len) || len != e->peer_len || memcmp(&now, &e->peer, len)) {
        printf("FAIL: %s: getpeername gives %u bytes '%s%s' where it gave %u bytes '%s%s' (%s)\n", e->what, len,
               len > 2 && !now.sun_path[0] ? "@" : "", len > 2 ? now.sun_path + !now.sun_path[0] : "",
               e->peer_len, !e->peer.sun_path[0] ? "@" : "", e->peer.sun_path + !e->peer.sun_path[0], strerror(errno));
        exit(1);
    }
    char buf[16];
    if (e->reset && type == SOCK_SEQPACKET) expect_reset(e);
    if (*e->own) {
        ssize_t n = recv(e->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n != (ssize_t)strlen(e->own) || memcmp(buf, e->own, n)) {
            printf("FAIL: %s: its own bytes: %zd\n", e->what, n);
            exit(1);
        }
    }
    if (e->reset && type == SOCK_STREAM) expect_reset(e);
    if (recv(e->fd, buf, 1, MSG_DONTWAIT) != 0) {
        printf("FAIL: %s: a receive did not return the end (%s)\n", e->what, strerror(errno));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "seqpacket")) type = SOCK_SEQPACKET;
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    struct sockaddr_un addr;
    socklen_t len;

    addr.sun_family = AF_UNIX;
    keep("a (its peer autobound)", orphan(&addr, sizeof(sa_family_t), "", 0, 1), "", 0);
    len = name_of(&addr, dir, "b", 1);
    keep("b (its peer bound an abstract name)", orphan(&addr, len, "hi", 1, 0), "hi", 1);
    len = name_of(&addr, dir, "c", 0);
    keep("c (its peer bound a path)", orphan(&addr, len, "", 0, 0), "", 0);

    int l = socket(AF_UNIX, type, 0);
    len = name_of(&addr, dir, "l", 1);
    if (l < 0 || bind(l, (struct sockaddr *)&addr, len) || listen(l, 4)) fail("listener");
    int d = socket(AF_UNIX, type, 0);
    if (connect(d, (struct sockaddr *)&addr, len)) fail("connect d");
    int accepted = accept(l, NULL, NULL);
    if (accepted < 0) fail("accept d");
    close(accepted);
    keep("d (a client, its accepted end closed)", d, "", 0);
    int client = socket(AF_UNIX, type, 0);
    struct sockaddr_un autobind = {.sun_family = AF_UNIX};
    if (bind(client, (struct sockaddr *)&autobind, sizeof(sa_family_t))) fail("autobind e's client");
    if (connect(client, (struct sockaddr *)&addr, len)) fail("connect e");
    int e = accept(l, NULL, NULL);
    if (e < 0) fail("accept e");
    close(client);
    keep("e (an accepted end, its autobound client closed)", e, "", 0);
    struct sockaddr_un path;
    socklen_t path_len = name_of(&path, dir, "g", 0);
    client = socket(AF_UNIX, type, 0);
    if (bind(client, (struct sockaddr *)&path, path_len)) fail("bind g's client");
    if (connect(client, (struct sockaddr *)&addr, len)) fail("connect g");
    int g = accept(l, NULL, NULL);
    if (g < 0) fail("accept g");
    close(client);
    keep("g (an accepted end, its client bound to a path closed)", g, "", 0);
    struct sockaddr_un own;
    socklen_t own_len = name_of(&own, dir, "h", 0);
    int h = socket(AF_UNIX, type, 0);
    if (bind(h, (struct sockaddr *)&own, own_len) || chmod(own.sun_path, 0640)) fail("bind h");
    if (connect(h, (struct sockaddr *)&addr, len)) fail("connect h");
    accepted = accept(l, NULL, NULL);
    if (accepted < 0) fail("accept h");
    close(accepted);
    keep("h (a client bound to its own path, its accepted end closed)", h, "", 0);
    strcpy(ends[n_ends - 1].own_name, own.sun_path);

    int pl = socket(AF_UNIX, type, 0);
    len = name_of(&addr, dir, "f", 0);
    if (pl < 0 || bind(pl, (struct sockaddr *)&addr, len) || listen(pl, 4)) fail("path listener");
    int f = socket(AF_UNIX, type, 0);
    if (connect(f, (struct sockaddr *)&addr, len)) fail("connect f");
    close(pl);
    unlink(addr.sun_path);
    keep("f (a client never accepted, its listener closed)", f, "", 1);

    printf("ready\n");
    while (!check) pause();
    for (int i = 0; i < n_ends; i++) check_end(&ends[i]);
    printf("PASS\n");
    return 0;
}
