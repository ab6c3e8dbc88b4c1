/*
 * zdtm's transition/unix_sock: a server binds a stream listener to a name relative to its cwd, two
 * child processes connect, the server accepts them and closes the listener (its file stays). The
 * restore failed after the killing dump ("bind(fd 14, unix_sock.test): EINVAL"): each accepted end,
 * whose client is another process, was made through a listener of the moment bound to an abstract
 * name, which the accepted end took, and its own name could not be bound on top. On SIGUSR2 each
 * accepted end must still be named srv.sock and name its child as peer (SO_PEERCRED), each child
 * must name srv.sock and the server as its peer, bytes must go both ways, and a connect to srv.sock
 * must be refused (no listener). argv[1]: the directory. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "workload.h"

#define KIDS 2

static int named(int s, int peer) {
    struct sockaddr_un a;
    socklen_t len = sizeof a;
    memset(&a, 0, sizeof a);
    if ((peer ? getpeername(s, (void *)&a, &len) : getsockname(s, (void *)&a, &len))) return 0;
    return strcmp(a.sun_path, "srv.sock") == 0;
}

static pid_t peer_pid(int s) {
    struct ucred c;
    socklen_t len = sizeof c;
    return getsockopt(s, SOL_SOCKET, SO_PEERCRED, &c, &len) ? -1 : c.pid;
}

static void child(int c, pid_t server) {
    char buf[4];
    if (read(c, buf, 4) != 4) exit(2);
    int ok = named(c, 1) && peer_pid(c) == server;
    if (write(c, ok ? "pong" : "bad!", 4) != 4) exit(3);
    exit(0);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2 || chdir(argv[1])) fail("usage: unixlistenerclosed DIR");
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, "srv.sock");
    unlink(a.sun_path);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(l, (void *)&a, sizeof a) || listen(l, KIDS)) fail("bind and listen");
    int acc[KIDS];
    pid_t kid[KIDS], me = getpid();
    for (int i = 0; i < KIDS; i++) {
        kid[i] = fork();
        if (kid[i] == 0) {
            close(l);
            int c = socket(AF_UNIX, SOCK_STREAM, 0);
            if (connect(c, (void *)&a, sizeof a)) exit(1);
            child(c, me);
        }
        if ((acc[i] = accept(l, NULL, NULL)) < 0) fail("accept");
    }
    close(l);
    printf("ready\n");
    while (!check) pause();
    for (int i = 0; i < KIDS; i++) {
        char buf[5] = {0};
        if (!named(acc[i], 0)) fail("an accepted end's name is not srv.sock");
        if (peer_pid(acc[i]) != kid[i]) fail("an accepted end's SO_PEERCRED does not name its child");
        if (write(acc[i], "ping", 4) != 4 || read(acc[i], buf, 4) != 4) fail("ping a child");
        if (strcmp(buf, "pong")) fail("a child's peer name or SO_PEERCRED is not the server's");
        int st;
        if (waitpid(kid[i], &st, 0) != kid[i] || !WIFEXITED(st) || WEXITSTATUS(st)) fail("a child's exit");
    }
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(c, (void *)&a, sizeof a) == 0 || errno != ECONNREFUSED) fail("srv.sock is not a closed listener's file");
    printf("PASS\n");
    return 0;
}
