/* Messages with files (SCM_RIGHTS) and credentials for the workloads; include after workload.h. */
#ifndef CRYO_SCMFDS_H
#define CRYO_SCMFDS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Sends msg with n (at most 4) fds. */
static void send_fds(int s, const char *msg, int *fds, int n) {
    char buf[CMSG_SPACE(4 * sizeof(int))];
    struct iovec iov = {(void *)msg, strlen(msg)};
    struct msghdr h = {0};
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    if (n > 0) {
        memset(buf, 0, sizeof buf);
        h.msg_control = buf;
        h.msg_controllen = CMSG_SPACE(n * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&h);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(n * sizeof(int));
        memcpy(CMSG_DATA(c), fds, n * sizeof(int));
    }
    if (sendmsg(s, &h, 0) != (ssize_t)strlen(msg)) fail("sendmsg");
}

/* One message into out (NUL-terminated, at most max - 1 bytes), its fds into fds and, when cred is
 * not NULL, its credentials (pid 0 when it had none); returns how many fds came. */
static int recv_fds(int s, char *out, size_t max, int *fds, struct ucred *cred) {
    char buf[CMSG_SPACE(4 * sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))];
    struct iovec iov = {out, max - 1};
    struct msghdr h = {0};
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    h.msg_control = buf;
    h.msg_controllen = sizeof buf;
    memset(out, 0, max);
    if (recvmsg(s, &h, MSG_DONTWAIT) < 0) fail("recvmsg");
    if (h.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) fail("message or control truncated");
    int n = 0;
    if (cred) cred->pid = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
        if (c->cmsg_type == SCM_RIGHTS) {
            int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(fds + n, CMSG_DATA(c), k * sizeof(int));
            n += k;
        } else if (c->cmsg_type == SCM_CREDENTIALS && cred) {
            memcpy(cred, CMSG_DATA(c), sizeof *cred);
        }
    }
    return n;
}

static void expect(const char *what, const char *got, const char *want) {
    if (strcmp(got, want)) { printf("FAIL: %s: got '%s', want '%s'\n", what, got, want); exit(1); }
}

#endif
