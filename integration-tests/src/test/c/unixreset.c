/*
 * unixreset — unix stream sockets whose peer closed with a byte it had not read: the kernel leaves each
 * ECONNRESET, returned once by the program's receive after its own unread bytes, then the end. One end
 * has no bytes of its own left, the other "hi" still unread. A dump failed with "recvmsg(fd N, 4194304
 * bytes): ECONNRESET" after its look at the queue had taken the error, then refused such a socket; the
 * restore now makes each again (its peer closes with a byte of its unread). Prints "ready".
 * On SIGUSR2: each gives its bytes, ECONNRESET once, then the end. Prints "PASS" or "FAIL: why".
 * With "seqpacket": seqpacket pairs, whose receive gives the error before the bytes, their own queues empty
 * (refused before: carried). With "seqpacketqueued" one end has "hi" unread, with "seqpacketempty" an empty
 * message that SIOCINQ does not count: any receive, a peek too, would take the error first (refused before:
 * cryo reads them with a BPF iterator). With "seqpacketfiles" its "hi" passes fd 1 (SCM_RIGHTS): refused. With
 * "seqpacketcreds" its sender passes credentials (SO_PASSCRED): "hi" comes with this process's pid, checked.
 */
#define _GNU_SOURCE
#include "workload.h"
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int type = SOCK_STREAM, pass_fd, pass_creds;
static const char empty_message[] = ""; /* by its address: an empty message queued, which SIOCINQ does not count */

static void expect_reset(int s)
{
    char c;
    if (recv(s, &c, 1, MSG_DONTWAIT) != -1 || errno != ECONNRESET) {
        printf("FAIL: fd %d: a receive did not return ECONNRESET (%s)\n", s, strerror(errno));
        exit(1);
    }
}

static int reset(const char *own)
{
    int sk[2];
    if (socketpair(AF_UNIX, type, 0, sk) || write(sk[0], "x", 1) != 1) fail("socketpair");
    int one = 1;
    if (*own && pass_creds && setsockopt(sk[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one)) fail("SO_PASSCRED");
    if (*own && pass_fd) {
        union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u = {0};
        struct iovec iov = {.iov_base = (void *)own, .iov_len = strlen(own)};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        *(int *)CMSG_DATA(c) = 1;
        if (sendmsg(sk[1], &m, 0) != (ssize_t)strlen(own)) fail("sendmsg with fd 1");
    } else if (*own && write(sk[1], own, strlen(own)) != (ssize_t)strlen(own)) fail("write");
    if (own == empty_message && send(sk[1], "", 0, 0) != 0) fail("send an empty message");
    close(sk[1]); // with "x" unread
    struct pollfd p = {.fd = sk[0]};
    if (poll(&p, 1, 0) != 1 || !(p.revents & POLLERR)) fail("no error after the peer's close");
    return sk[0];
}

static void check_reset(int s, const char *own)
{
    char buf[16];
    if (type == SOCK_SEQPACKET) {
        expect_reset(s);
    }
    if (*own && pass_creds) {
        int one = 1;
        union { char buf[CMSG_SPACE(sizeof(struct ucred))]; struct cmsghdr align; } u = {0};
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
        if (setsockopt(s, SOL_SOCKET, SO_PASSCRED, &one, sizeof one)) fail("SO_PASSCRED");
        ssize_t n = recvmsg(s, &m, MSG_DONTWAIT | MSG_PEEK);
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        if (n != (ssize_t)strlen(own) || !c || c->cmsg_type != SCM_CREDENTIALS
                || ((struct ucred *)CMSG_DATA(c))->pid != getpid()) {
            printf("FAIL: fd %d: its message's credentials (%zd bytes, pid %d)\n", s, n,
                   c && c->cmsg_type == SCM_CREDENTIALS ? ((struct ucred *)CMSG_DATA(c))->pid : -1);
            exit(1);
        }
    }
    if (*own) {
        ssize_t n = recv(s, buf, sizeof buf, MSG_DONTWAIT);
        if (n != (ssize_t)strlen(own) || memcmp(buf, own, n)) {
            printf("FAIL: fd %d: its own bytes: %zd\n", s, n);
            exit(1);
        }
    }
    if (type == SOCK_STREAM) {
        expect_reset(s);
    }
    if (recv(s, buf, 1, MSG_DONTWAIT) != 0) {
        printf("FAIL: fd %d: a second receive did not return the end\n", s);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strncmp(mode, "seqpacket", 9)) {
        type = SOCK_SEQPACKET;
    }
    pass_fd = !strcmp(mode, "seqpacketfiles");
    pass_creds = !strcmp(mode, "seqpacketcreds");
    /* stream: one end without bytes of its own, one with; seqpacket: two without */
    const char *own = !strcmp(mode, "seqpacket") ? "" : !strcmp(mode, "seqpacketempty") ? empty_message : "hi";
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int a = reset(""), b = reset(own);
    printf("ready\n");
    while (!check) pause();
    check_reset(a, "");
    check_reset(b, own);
    printf("PASS\n");
    return 0;
}
