/*
 * Unread unix messages whose only extra is their sender's credentials (SO_PASSCRED), with no file
 * passed (zdtm's sk-unix-ucred: the restore failed after the dump had killed the tree, since the
 * kernel takes credentials only of a pid that exists and the queues were filled before any task).
 * Argument: DIR. A listener DIR/sock, a connection accepted from it, and a seqpacket pair, all with
 * SO_PASSCRED; a child queues a stream message with its own credentials and the parent one on the
 * pair with its own. Prints "ready", and on SIGUSR2 reads both back with the same pid, uid and gid,
 * stops the child and prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

static void send_creds(int s, const char *text) {
    union { struct cmsghdr c; char b[CMSG_SPACE(sizeof(struct ucred))]; } u;
    struct iovec iov = { .iov_base = (void *)text, .iov_len = strlen(text) };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof u.b };
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_len = CMSG_LEN(sizeof(struct ucred));
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDENTIALS;
    struct ucred cr = { .pid = getpid(), .uid = getuid(), .gid = getgid() };
    memcpy(CMSG_DATA(c), &cr, sizeof cr);
    if (sendmsg(s, &m, 0) != (ssize_t)strlen(text)) fail("sendmsg");
}

/* Reads one message; fails unless it is `text` from pid `pid` with this uid and gid. */
static void expect(int s, const char *text, pid_t pid, const char *what) {
    char buf[64] = { 0 };
    union { struct cmsghdr c; char b[CMSG_SPACE(sizeof(struct ucred))]; } u;
    struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf - 1 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof u.b };
    ssize_t n = recvmsg(s, &m, MSG_DONTWAIT);
    if (n != (ssize_t)strlen(text) || strcmp(buf, text)) { printf("FAIL: %s: read '%s'\n", what, buf); exit(1); }
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    if (!c || c->cmsg_type != SCM_CREDENTIALS) { printf("FAIL: %s: no credentials\n", what); exit(1); }
    struct ucred cr;
    memcpy(&cr, CMSG_DATA(c), sizeof cr);
    if (cr.pid != pid || cr.uid != getuid() || cr.gid != getgid()) {
        printf("FAIL: %s: credentials pid %d uid %d gid %d, want pid %d\n", what, cr.pid, cr.uid, cr.gid, pid);
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: credqueue DIR");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int on = 1;
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof a.sun_path, "%s/sock", argv[1]);
    int l = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0);
    if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 4)) fail("listener");
    if (setsockopt(c, SOL_SOCKET, SO_PASSCRED, &on, sizeof on)) fail("SO_PASSCRED");
    if (connect(c, (struct sockaddr *)&a, sizeof a)) fail("connect");
    int acc = accept(l, NULL, NULL);
    if (acc < 0 || setsockopt(acc, SOL_SOCKET, SO_PASSCRED, &on, sizeof on)) fail("accept");
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) || setsockopt(sp[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on)) fail("socketpair");
    int done[2];
    if (pipe(done)) fail("pipe");
    pid_t child = fork();
    if (child == 0) {
        send_creds(c, "from the child");
        close(done[1]);
        char x;
        read(done[0], &x, 1); /* until the parent has checked */
        _exit(0);
    }
    send_creds(sp[0], "from the parent");
    usleep(100000); /* the child's message is queued */
    printf("ready\n");
    while (!check) pause();

    expect(acc, "from the child", child, "stream connection");
    expect(sp[1], "from the parent", getpid(), "seqpacket pair");
    close(done[1]);
    int st;
    if (waitpid(child, &st, 0) != child || !WIFEXITED(st)) fail("the child");
    printf("PASS\n");
    return 0;
}
