/*
 * Files passed in unread unix socket messages (SCM_RIGHTS) and sender credentials (SO_PASSCRED).
 * A datagram pair queues "one" passing the read end of a pipe holding "in the pipe" (no task holds
 * that end any more), "two" passing nothing, and "three" passing a deleted file opened at offset 3
 * and the pipe's write end that the task keeps too, and "four" passing one end of a stream pair
 * whose other end a datagram pair with a closed sender passes ("orphan"); a seqpacket pair whose
 * receiver has SO_PASSCRED queues a message with credentials and a pipe end; a stream pair queues
 * "abc", then "defg" passing an eventfd worth 7, then "hij" (one read gets "abcdefg" and the
 * eventfd: the kernel stops a read after the bytes that pass files). On SIGUSR2 every message must come
 * back in order, with its files (the same open files: O_NONBLOCK set on the kept write end shows
 * on the received one), its credentials, and the stream's files only with the bytes they came with.
 * argv[1]: a directory for the deleted file. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "workload.h"
#include "scmfds.h"

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2) fail("usage: scmqueue DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/scm-deleted", argv[1]);

    int dg[2], sp[2], st[2], p[2], q[2], og[2], pass[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp)
        || socketpair(AF_UNIX, SOCK_STREAM, 0, st) || socketpair(AF_UNIX, SOCK_DGRAM, 0, og)
        || socketpair(AF_UNIX, SOCK_STREAM, 0, pass)) fail("socketpair");
    if (pipe(p) || pipe(q)) fail("pipe");
    if (write(p[1], "in the pipe", 11) != 11) fail("write pipe");
    send_fds(dg[0], "one", &p[0], 1);
    close(p[0]);
    send_fds(dg[0], "two", NULL, 0);
    int f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (f < 0 || write(f, "0123456789", 10) != 10 || lseek(f, 3, SEEK_SET) != 3) fail("deleted file");
    unlink(path);
    int w2 = p[1]; /* the kept write end itself: the received one must be that very open file */
    int three[2] = {f, w2};
    send_fds(dg[0], "three", three, 2);
    close(f);
    send_fds(dg[0], "four", &pass[1], 1); /* one end of a connection whose other end the task keeps */
    close(pass[1]);
    send_fds(og[0], "orphan", &pass[0], 1); /* the kept end, in a queue whose sender is closed */
    close(og[0]);

    int on = 1;
    if (setsockopt(sp[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on)) fail("SO_PASSCRED");
    send_fds(sp[0], "with credentials", &q[1], 1);
    close(q[1]);

    int ev = eventfd(7, 0);
    if (ev < 0) fail("eventfd");
    send_fds(st[0], "abc", NULL, 0);
    send_fds(st[0], "defg", &ev, 1);
    close(ev);
    send_fds(st[0], "hij", NULL, 0);

    printf("ready\n");
    while (!check) pause();

    char buf[64];
    int fds[8];
    struct ucred cr;
    /* datagrams */
    if (recv_fds(dg[1], buf, sizeof buf, fds, NULL) != 1) fail("'one' passes one fd");
    expect("datagram 1", buf, "one");
    char got[32] = {0};
    if (read(fds[0], got, sizeof got - 1) != 11) fail("read the pipe passed with 'one'");
    expect("pipe passed with 'one'", got, "in the pipe");
    int pr = fds[0];
    if (recv_fds(dg[1], buf, sizeof buf, fds, NULL) != 0) fail("'two' passes nothing");
    expect("datagram 2", buf, "two");
    if (recv_fds(dg[1], buf, sizeof buf, fds, NULL) != 2) fail("'three' passes two fds");
    expect("datagram 3", buf, "three");
    memset(got, 0, sizeof got);
    if (read(fds[0], got, 4) != 4) fail("read the deleted file");
    expect("deleted file from offset 3", got, "3456");
    int fl = fcntl(p[1], F_GETFL);
    if (fcntl(p[1], F_SETFL, fl | O_NONBLOCK)) fail("F_SETFL");
    if (!(fcntl(fds[1], F_GETFL) & O_NONBLOCK)) { printf("FAIL: the passed write end is not the kept one's open file\n"); return 1; }
    if (write(fds[1], "x", 1) != 1) fail("write through the passed write end");
    if (read(pr, got, 1) != 1 || got[0] != 'x') fail("the passed ends are not one pipe");
    if (recv_fds(dg[1], buf, sizeof buf, fds, NULL) != 1) fail("'four' passes one fd");
    expect("datagram 4", buf, "four");
    int far = fds[0];
    if (recv_fds(og[1], buf, sizeof buf, fds, NULL) != 1) fail("'orphan' passes one fd");
    expect("datagram from a closed sender", buf, "orphan");
    if (write(fds[0], "conn", 4) != 4) fail("write through the passed connection");
    memset(got, 0, sizeof got);
    if (read(far, got, sizeof got - 1) != 4) fail("read the other end of the passed connection");
    expect("passed connection", got, "conn");
    /* seqpacket with credentials */
    if (recv_fds(sp[1], buf, sizeof buf, fds, &cr) != 1) fail("seqpacket passes one fd");
    expect("seqpacket", buf, "with credentials");
    if (cr.pid != getpid() || cr.uid != getuid() || cr.gid != getgid()) {
        printf("FAIL: credentials pid %d uid %d gid %d, want %d %d %d\n", cr.pid, cr.uid, cr.gid, getpid(), getuid(), getgid());
        return 1;
    }
    if (write(fds[0], "q", 1) != 1 || read(q[0], got, 1) != 1 || got[0] != 'q') fail("the passed pipe end");
    /* stream: the files end a read, the bytes after them come next */
    if (recv_fds(st[1], buf, sizeof buf, fds, NULL) != 1) fail("'defg' passes one fd");
    expect("stream bytes up to the eventfd's", buf, "abcdefg");
    unsigned long long v = 0;
    if (read(fds[0], &v, 8) != 8 || v != 7) { printf("FAIL: eventfd holds %llu, not 7\n", v); return 1; }
    if (recv_fds(st[1], buf, sizeof buf, fds, NULL) != 0) fail("'hij' passes nothing");
    expect("stream tail", buf, "hij");
    printf("PASS\n");
    return 0;
}
