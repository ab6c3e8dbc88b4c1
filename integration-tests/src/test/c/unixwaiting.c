/*
 * zdtm's sk-unix-listen01: a unix stream listener bound to a name relative to the program's cwd
 * (a directory that is not cryo's), with a client connected and not yet accepted. The restore
 * connected the waiting client by the relative name from cryo's own cwd (ENOENT) and failed after
 * the killing dump. On SIGUSR2 the listener must accept that client, which names it by its name,
 * and bytes must go both ways. argv[1]: the directory. Prints PASS or FAIL: reason.
 */
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "workload.h"

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2 || chdir(argv[1])) fail("usage: unixwaiting DIR");
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, "waiting.sock");
    unlink(a.sun_path);
    int l = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(l, (void *)&a, sizeof a) || listen(l, 16)) fail("bind and listen");
    if (connect(c, (void *)&a, sizeof a)) fail("connect");
    printf("ready\n");
    while (!check) pause();
    int s = accept(l, NULL, NULL);
    if (s < 0) fail("accept the waiting client");
    struct sockaddr_un peer;
    socklen_t len = sizeof peer;
    if (getpeername(c, (void *)&peer, &len) || strcmp(peer.sun_path, "waiting.sock")) fail("the client's peer name");
    char buf[8] = {0};
    if (write(c, "ping", 4) != 4 || read(s, buf, 4) != 4 || strcmp(buf, "ping")) fail("client to server");
    if (write(s, "pong", 4) != 4 || read(c, buf, 4) != 4 || strcmp(buf, "pong")) fail("server to client");
    printf("PASS\n");
    return 0;
}
