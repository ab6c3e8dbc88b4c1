/*
 * An established TCP connection over loopback with both ends in the tree (parent accepts, child
 * connects), each end with SO_REUSEADDR set by the program, and SO_KEEPALIVE on the accepted one.
 * Leaving TCP repair mode clears SO_REUSEADDR in the kernel, so a dump that repairs the connection
 * must put it back (on the restored socket, and on the running one after a dump with -R). Prints
 * "ready <port>". On SIGUSR2 the parent checks its end's options, asks the child (over the
 * connection itself) to check its own and answer, and prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

static int opt(int s, int name) {
    int v = -1;
    socklen_t l = sizeof v;
    if (getsockopt(s, SOL_SOCKET, name, &v, &l) < 0) fail("getsockopt");
    return v;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int one = 1;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0) fail("listen");
    if (getsockname(l, (struct sockaddr *)&a, &al) < 0) fail("getsockname");
    pid_t child = fork();
    if (child < 0) fail("fork");
    if (child == 0) {
        signal(SIGUSR2, SIG_IGN);
        close(l);
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (c < 0 || setsockopt(c, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) _exit(2);
        if (connect(c, (struct sockaddr *)&a, sizeof a) < 0) _exit(3);
        char q;
        if (read(c, &q, 1) != 1) _exit(4); /* the parent's question, after the restore */
        char answer = opt(c, SO_REUSEADDR) == 1 ? 'y' : 'n';
        if (write(c, &answer, 1) != 1) _exit(5);
        _exit(0);
    }
    int s = accept(l, NULL, NULL);
    if (s < 0) fail("accept");
    close(l);
    if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) < 0)
        fail("setsockopt");
    printf("ready %d\n", ntohs(a.sin_port));
    while (!check) pause();

    if (opt(s, SO_REUSEADDR) != 1) fail("SO_REUSEADDR of the accepted end was cleared");
    if (opt(s, SO_KEEPALIVE) != 1) fail("SO_KEEPALIVE of the accepted end was cleared");
    char q = '?', answer = 0;
    if (write(s, &q, 1) != 1 || read(s, &answer, 1) != 1) fail("the connection does not work");
    if (answer != 'y') fail("SO_REUSEADDR of the connecting end was cleared");
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) fail("child");
    printf("PASS\n");
    return 0;
}
