/*
 * skunixmntns DIR — zdtm's sk-unix-mntns: a parent binds a datagram socket at DIR/test.socket and connects an
 * unnamed one to it; its child makes a mount namespace of its own, mounts a tmpfs on DIR and does the same there,
 * at the same path. Each has one datagram of its own queued. The dump refused the child's ("its socket file is
 * reached through the task's own mount namespace ... not supported when it is a datagram socket of cryo's net
 * namespace"): its client was connected again from cryo's view, where the path is the parent's socket.
 * Prints "ready". On SIGUSR2 (forwarded to the child) each reads its queued datagram, sends one more through its
 * client and reads it back from its own socket. Prints "PASS" or "FAIL: why".
 * With "named": the child's client is bound to an abstract name first (still refused: a named client is made
 * again from cryo's view).
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "workload.h"

static int sk, csk;

static void setup(const char *dir, const char *who, int named) {
    struct sockaddr_un a = {.sun_family = AF_UNIX}, c = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/test.socket", dir);
    snprintf(c.sun_path + 1, sizeof c.sun_path - 1, "cryo-skunixmntns-%d", getpid());
    unlink(a.sun_path);
    sk = socket(AF_UNIX, SOCK_DGRAM, 0);
    csk = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (sk < 0 || csk < 0 || bind(sk, (struct sockaddr *)&a, sizeof a)
            || (named && bind(csk, (struct sockaddr *)&c, offsetof(struct sockaddr_un, sun_path) + 1 + strlen(c.sun_path + 1))) || connect(csk, (struct sockaddr *)&a, sizeof a))
        fail("bind, connect");
    if (send(csk, who, strlen(who), 0) != (ssize_t)strlen(who)) fail("send");
}

/* 0, or why not */
static const char *verify(const char *who) {
    char buf[64] = {0};
    if (recv(sk, buf, sizeof buf - 1, MSG_DONTWAIT) != (ssize_t)strlen(who) || strcmp(buf, who)) return "its queued datagram";
    if (send(csk, "after", 5, 0) != 5) return "a send through its client";
    memset(buf, 0, sizeof buf);
    if (recv(sk, buf, sizeof buf - 1, MSG_DONTWAIT) != 5 || strcmp(buf, "after")) return "the datagram sent after";
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) fail("usage: skunixmntns DIR");
    signal(SIGUSR2, on_usr2);
    int ready[2];
    if (pipe(ready)) fail("pipe");
    pid_t child = fork();
    if (child < 0) fail("fork");
    if (child == 0) {
        if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)
                || mount("cryo-skmntns", argv[1], "tmpfs", 0, "size=64k")) _exit(2);
        setup(argv[1], "child", argc > 2 && !strcmp(argv[2], "named"));
        close(ready[1]);
        for (int i = 0; i < 600 && !check; i++) sleep(1);
        const char *why = verify("child");
        if (why) {
            printf("FAIL: the child: %s\n", why);
            _exit(1);
        }
        _exit(0);
    }
    close(ready[1]);
    char b;
    if (read(ready[0], &b, 1) != 0) fail("the child's setup");
    setup(argv[1], "parent", 0);
    printf("ready\n");
    while (!check) pause();
    kill(child, SIGUSR2);
    const char *why = verify("parent");
    if (why) {
        printf("FAIL: the parent: %s\n", why);
        return 1;
    }
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status)) {
        printf("FAIL: the child ended with status 0x%x\n", status);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
