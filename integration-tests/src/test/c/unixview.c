/*
 * A unix stream listener whose socket file only its own mount namespace reaches (nscd's private
 * bind mount over /var/run/nscd): run under `unshare --mount` with argv[1] a directory bind-mounted
 * over another one, so the file is at argv[1]/sock inside and elsewhere outside. The file gets mode
 * 0640; a client of its own waits to be accepted. On SIGUSR2 the file must be a socket with that
 * mode, the waiting client must be accepted with its bytes, and a new client connecting by the path
 * must reach the listener. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "workload.h"

static void exchange(int l, int c, const char *what) {
    int a = accept(l, NULL, NULL);
    if (a < 0) fail(what);
    char got[8] = {0};
    if (write(c, what, 4) != 4 || read(a, got, 4) != 4 || memcmp(got, what, 4)) fail(what);
    close(a);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2) fail("usage: unixview DIR");
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s/sock", argv[1]);
    unlink(addr.sun_path);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof addr) || listen(l, 8)) fail("listen");
    if (chmod(addr.sun_path, 0640)) fail("chmod");
    int waiting = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(waiting, (struct sockaddr *)&addr, sizeof addr)) fail("connect the waiting client");

    printf("ready\n");
    while (!check) pause();

    struct stat st;
    if (stat(addr.sun_path, &st) || !S_ISSOCK(st.st_mode) || (st.st_mode & 07777) != 0640) {
        printf("FAIL: %s is not a socket file of mode 0640 (mode %o)\n", addr.sun_path, st.st_mode);
        return 1;
    }
    exchange(l, waiting, "wait");
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&addr, sizeof addr)) fail("connect a new client by the path");
    exchange(l, c, "anew");
    printf("PASS\n");
    return 0;
}
