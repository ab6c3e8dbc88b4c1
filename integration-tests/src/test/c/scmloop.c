/*
 * A unix datagram socketpair whose ends each sent both ends over themselves (zdtm's scm06, "the
 * vinaigrette"): each end's queue holds two messages passing, among others, the end itself. The
 * program holds both ends, bound to abstract names of its pid (two runs at once never meet). On
 * SIGUSR2 it follows the chain from the first end three times and checks each socket received is
 * the one bound to the expected name.
 * Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "workload.h"

static void send_fd(int via, int fd) {
    char c = 0, buf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = &c, .iov_len = 1};
    struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf, .msg_controllen = sizeof buf};
    memset(buf, 0, sizeof buf);
    struct cmsghdr *ch = CMSG_FIRSTHDR(&h);
    ch->cmsg_level = SOL_SOCKET;
    ch->cmsg_type = SCM_RIGHTS;
    ch->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(ch), &fd, sizeof fd);
    if (sendmsg(via, &h, 0) != 1) fail("sendmsg");
}

static int recv_fd(int via) {
    char c, buf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = &c, .iov_len = 1};
    struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf, .msg_controllen = sizeof buf};
    if (recvmsg(via, &h, MSG_DONTWAIT) != 1 || (h.msg_flags & (MSG_CTRUNC | MSG_TRUNC))) fail("recvmsg");
    struct cmsghdr *ch = CMSG_FIRSTHDR(&h);
    if (!ch || ch->cmsg_type != SCM_RIGHTS) fail("no SCM_RIGHTS");
    int fd;
    memcpy(&fd, CMSG_DATA(ch), sizeof fd);
    return fd;
}

/* The abstract name of end i, "\0scmloop-PID-i"; returns its length. */
static socklen_t name_of(int i, struct sockaddr_un *a) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "scmloop-%d-%d", (int)getpid(), i);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int ska[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, ska)) fail("socketpair");
    for (int i = 0; i < 2; i++) {
        struct sockaddr_un a;
        if (bind(ska[i], (struct sockaddr *)&a, name_of(i, &a))) fail("bind");
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) send_fd(ska[i], ska[j]);
    printf("ready\n");
    while (!check) pause();
    int skc = ska[0];
    for (int i = 0; i < 3; i++) {
        skc = recv_fd(skc);
        struct sockaddr_un a, want;
        socklen_t len = sizeof a, want_len = name_of(i % 2, &want);
        if (getsockname(skc, (struct sockaddr *)&a, &len) || len != want_len || memcmp(&a, &want, len)) {
            printf("FAIL: message %d passed the wrong socket\n", i + 1);
            return 1;
        }
    }
    printf("PASS\n");
    return 0;
}
