/*
 * A log daemon's queue: a datagram socket bound to DIR/log with SO_PASSCRED and SO_PASSPIDFD, holding
 * an unread message from a client (uid and gid 1000, its own credentials) that has exited and been
 * reaped since, as `logger` does. Argument: DIR. On SIGUSR2 it reads the message: the credentials
 * must name the dead client (pid, uid, gid), the SCM_PIDFD a process that has exited (fdinfo Pid -1),
 * and that pid must not run. zdtm's scm_pidfd01 and a dead-sender scm_creds found it refused: a
 * restore could not name a dead pid (the kernel takes credentials only of a live one).
 * Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"
#include "pidfdinfo.h"

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef SCM_PIDFD
#define SCM_PIDFD 4
#endif

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2) fail("usage: deadsender DIR");
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/log", argv[1]);
    int log = socket(AF_UNIX, SOCK_DGRAM, 0), one = 1;
    if (log < 0 || bind(log, (struct sockaddr *)&a, sizeof a)) fail("bind");
    if (setsockopt(log, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) || setsockopt(log, SOL_SOCKET, SO_PASSPIDFD, &one, sizeof one))
        fail("SO_PASSCRED/SO_PASSPIDFD");
    pid_t client = fork();
    if (client == 0) {
        int s = socket(AF_UNIX, SOCK_DGRAM, 0); /* connected as root: the test's directory may be closed to uid 1000 */
        if (connect(s, (struct sockaddr *)&a, sizeof a) || setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000)) _exit(2);
        _exit(send(s, "<13>hello", 9, 0) == 9 ? 0 : 1);
    }
    int st;
    if (waitpid(client, &st, 0) != client || !WIFEXITED(st) || WEXITSTATUS(st)) fail("the client could not send");
    printf("ready\n");
    while (!check) pause();
    char buf[64], cbuf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int))];
    struct iovec iov = {buf, sizeof buf};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    ssize_t n = recvmsg(log, &m, MSG_DONTWAIT);
    if (n != 9 || memcmp(buf, "<13>hello", 9)) fail("the message is gone");
    struct ucred cr = {0};
    int pidfd = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_type == SCM_CREDENTIALS) memcpy(&cr, CMSG_DATA(c), sizeof cr);
        if (c->cmsg_type == SCM_PIDFD) memcpy(&pidfd, CMSG_DATA(c), sizeof pidfd);
    }
    if (cr.pid != client || cr.uid != 1000 || cr.gid != 1000) {
        printf("FAIL: credentials pid %d uid %d gid %d, the client was %d uid 1000 gid 1000\n", cr.pid, cr.uid, cr.gid, client);
        return 1;
    }
    if (pidfd < 0 || fdinfo_pid(pidfd) != -1) { printf("FAIL: SCM_PIDFD %d names pid %d, not a dead one\n", pidfd, fdinfo_pid(pidfd)); return 1; }
    if (kill(client, 0) == 0 || errno != ESRCH) { printf("FAIL: pid %d runs\n", client); return 1; }
    printf("PASS\n");
    return 0;
}
