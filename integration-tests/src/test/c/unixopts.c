/*
 * Per-socket state of unix sockets a program sets and reads back, beyond what /proc shows:
 *   - a stream pair end with bytes unread and SO_PEEK_OFF 3 (the next MSG_PEEK starts at byte 3),
 *     SO_RCVLOWAT 5, SO_PASSCRED, SO_PASSSEC and SO_PASSPIDFD on;
 *   - a datagram socket bound by autobind (the kernel picks an abstract name), with its own buffer
 *     sizes, and a datagram from it unread at a named receiver;
 *   - a seqpacket listener with SO_PASSCRED on and SO_PASSRIGHTS off (6.16: it refuses passed fds), and a
 *     connection accepted from it, which took both from it and turned SO_PASSRIGHTS on again;
 *   - a datagram pair whose receiver holds a pipe's fd passed to it, unread, and turned SO_PASSRIGHTS off since
 *     (the kernel refuses to queue a file to it now: the restore must queue it all the same).
 * On SIGUSR2 the program checks every option, the autobound name (the same five hex digits), the
 * peek offset by peeking, and the sender's name of the unread datagram. Prints PASS or FAIL: why.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "workload.h"

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83
#endif

static int get(int s, int opt) {
    int v = 0;
    socklen_t n = sizeof v;
    if (getsockopt(s, SOL_SOCKET, opt, &v, &n)) fail("getsockopt");
    return v;
}

static void set(int s, int opt, int v) {
    if (setsockopt(s, SOL_SOCKET, opt, &v, sizeof v)) fail("setsockopt");
}

struct opt { int s, opt; const char *name; int want; };

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair)) fail("socketpair");
    if (write(pair[1], "0123456789", 10) != 10) fail("write");
    set(pair[0], SO_PEEK_OFF, 3);
    set(pair[0], SO_RCVLOWAT, 5);
    set(pair[0], SO_PASSCRED, 1);
    set(pair[0], SO_PASSSEC, 1);
    set(pair[0], SO_PASSPIDFD, 1);

    struct sockaddr_un rname = {.sun_family = AF_UNIX};
    int rlen = snprintf(rname.sun_path + 1, sizeof rname.sun_path - 1, "cryo-unixopts-%d", getpid());
    socklen_t rsize = offsetof(struct sockaddr_un, sun_path) + 1 + rlen;
    int recv_ = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (recv_ < 0 || bind(recv_, (struct sockaddr *)&rname, rsize)) fail("bind receiver");
    int autob = socket(AF_UNIX, SOCK_DGRAM, 0);
    sa_family_t fam = AF_UNIX;
    if (autob < 0 || bind(autob, (struct sockaddr *)&fam, sizeof fam)) fail("autobind");
    set(autob, SO_SNDBUF, 50000);
    set(autob, SO_RCVBUF, 70000);
    if (sendto(autob, "hi", 2, 0, (struct sockaddr *)&rname, rsize) != 2) fail("sendto");
    struct sockaddr_un aname;
    socklen_t alen = sizeof aname;
    if (getsockname(autob, (struct sockaddr *)&aname, &alen)) fail("getsockname");

    struct sockaddr_un lname = {.sun_family = AF_UNIX};
    int llen = snprintf(lname.sun_path + 1, sizeof lname.sun_path - 1, "cryo-unixopts-l-%d", getpid());
    socklen_t lsize = offsetof(struct sockaddr_un, sun_path) + 1 + llen;
    int l = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&lname, lsize) || listen(l, 4)) fail("listen");
    set(l, SO_PASSCRED, 1);
    int off = 0, rights = setsockopt(l, SOL_SOCKET, SO_PASSRIGHTS, &off, sizeof off) == 0; /* a kernel before 6.16: none */
    int c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&lname, lsize)) fail("connect");
    int a = accept(l, NULL, NULL);
    if (a < 0) fail("accept");
    set(a, SO_RCVLOWAT, 2);
    if (rights) set(a, SO_PASSRIGHTS, 1);
    int fpair[2], pp[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, fpair) || pipe(pp)) fail("socketpair for a passed fd");
    char cbuf[CMSG_SPACE(sizeof(int))] = {0};
    struct iovec iov = {"f", 1};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET, cm->cmsg_type = SCM_RIGHTS, cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &pp[0], sizeof(int));
    if (sendmsg(fpair[1], &mh, 0) != 1) fail("sendmsg SCM_RIGHTS");
    close(pp[0]);
    if (rights) set(fpair[0], SO_PASSRIGHTS, 0);

    struct opt opts[] = {
        {pair[0], SO_PEEK_OFF, "SO_PEEK_OFF", get(pair[0], SO_PEEK_OFF)},
        {pair[0], SO_RCVLOWAT, "SO_RCVLOWAT", 5},
        {pair[0], SO_PASSCRED, "SO_PASSCRED", 1},
        {pair[0], SO_PASSSEC, "SO_PASSSEC", 1},
        {pair[0], SO_PASSPIDFD, "SO_PASSPIDFD", 1},
        {autob, SO_SNDBUF, "autobound SO_SNDBUF", get(autob, SO_SNDBUF)},
        {autob, SO_RCVBUF, "autobound SO_RCVBUF", get(autob, SO_RCVBUF)},
        {l, SO_PASSCRED, "listener SO_PASSCRED", 1},
        {a, SO_PASSCRED, "accepted SO_PASSCRED", get(a, SO_PASSCRED)},
        {a, SO_RCVLOWAT, "accepted SO_RCVLOWAT", 2},
        {l, SO_PASSRIGHTS, "listener SO_PASSRIGHTS", 0},
        {a, SO_PASSRIGHTS, "accepted SO_PASSRIGHTS", 1},
        {fpair[0], SO_PASSRIGHTS, "SO_PASSRIGHTS of the receiver of a passed fd", 0},
    };
    int n = sizeof opts / sizeof opts[0] - (rights ? 0 : 3);
    for (int i = 0; i < n; i++) printf("%s = %d\n", opts[i].name, get(opts[i].s, opts[i].opt));
    printf("autobound as @%.*s\n", (int)(alen - offsetof(struct sockaddr_un, sun_path) - 1), aname.sun_path + 1);
    printf("ready\n");
    while (!check) pause();

    int bad = 0;
    for (int i = 0; i < n; i++) {
        int v = get(opts[i].s, opts[i].opt);
        if (v != opts[i].want) { printf("FAIL: %s is %d, was %d\n", opts[i].name, v, opts[i].want); bad = 1; }
    }
    struct sockaddr_un now;
    socklen_t nlen = sizeof now;
    if (getsockname(autob, (struct sockaddr *)&now, &nlen) || nlen != alen || memcmp(&now, &aname, alen)) {
        printf("FAIL: the autobound name changed\n");
        bad = 1;
    }
    char buf[16] = {0};
    if (recv(pair[0], buf, 4, MSG_PEEK | MSG_DONTWAIT) != 4 || memcmp(buf, "3456", 4)) {
        printf("FAIL: a peek read '%s', not '3456' (SO_PEEK_OFF 3)\n", buf);
        bad = 1;
    }
    struct sockaddr_un from;
    socklen_t flen = sizeof from;
    if (recvfrom(recv_, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &flen) != 2 || flen != alen
        || memcmp(&from, &aname, alen)) {
        printf("FAIL: the unread datagram or its sender's autobound name is lost\n");
        bad = 1;
    }
    memset(cbuf, 0, sizeof cbuf), mh.msg_controllen = sizeof cbuf, iov.iov_base = buf;
    int got = -1;
    struct stat st;
    if (recvmsg(fpair[0], &mh, MSG_DONTWAIT) == 1 && (cm = CMSG_FIRSTHDR(&mh)) && cm->cmsg_type == SCM_RIGHTS)
        memcpy(&got, CMSG_DATA(cm), sizeof got);
    if (got < 0 || fstat(got, &st) || !S_ISFIFO(st.st_mode)) {
        printf("FAIL: the pipe's fd passed in an unread datagram is lost\n");
        bad = 1;
    }
    if (!bad) printf("PASS\n");
    return bad;
}
