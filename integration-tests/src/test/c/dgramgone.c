/*
 * A unix datagram server whose socket file was removed and replaced by a FIFO, with a client
 * connected to it and a datagram from a named sender unread. On SIGUSR2 the server must read the
 * queued datagram (from the sender's name), then one the client sends after the restore; the FIFO
 * must still stand at the path (open and working), and the server keep its name. zdtm's
 * fifo_upon_unix_socket00 found it refused. argv[1]: a directory; argv[2] "relative": the server
 * and the sender bind relative names in it, then the program moves to / (zdtm's
 * fifo_upon_unix_socket01, refused: its names no longer resolve in its cwd). The server's own file must
 * keep its name as the kernel shows it (a restored one showed a hidden name of cryo's, and a second dump
 * refused a relative one: zdtm's fifo_upon_unix_socket01 with --iters 2). Prints PASS or FAIL.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "workload.h"

static int relative;

/* The server's own file as the kernel names it (SIOCUNIXFILE): "DIR/srv (deleted)" */
static void file_of(int s, char *at, size_t size) {
    int f = ioctl(s, 0x89E0 /* SIOCUNIXFILE */, 0);
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", f);
    ssize_t n = f < 0 ? -1 : readlink(p, at, size - 1);
    if (n < 0) fail("the server's file (SIOCUNIXFILE)");
    at[n] = 0;
    close(f);
}

static struct sockaddr_un named(const char *dir, const char *name) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (relative) snprintf(a.sun_path, sizeof a.sun_path, "%s", name);
    else snprintf(a.sun_path, sizeof a.sun_path, "%s/%s", dir, name);
    return a;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2) fail("usage: dgramgone DIR [relative]");
    relative = argc > 2 && !strcmp(argv[2], "relative");
    if (relative && chdir(argv[1])) fail("chdir DIR");
    struct sockaddr_un srv = named(argv[1], "srv"), snd = named(argv[1], "snd");
    unlink(srv.sun_path);
    unlink(snd.sun_path);
    int s = socket(AF_UNIX, SOCK_DGRAM, 0), c = socket(AF_UNIX, SOCK_DGRAM, 0), n = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (bind(s, (void *)&srv, sizeof srv) || connect(c, (void *)&srv, sizeof srv)) fail("server and client");
    if (bind(n, (void *)&snd, sizeof snd) || sendto(n, "queued", 6, 0, (void *)&srv, sizeof srv) != 6) fail("sender");
    if (unlink(srv.sun_path) || mkfifo(srv.sun_path, 0600)) fail("replace the socket file by a FIFO");
    int fifo = open(srv.sun_path, O_RDWR);
    if (fifo < 0) fail("open the FIFO");
    if (relative && chdir("/")) fail("chdir /");
    char file[512], now[512];
    file_of(s, file, sizeof file);
    printf("ready\n");
    while (!check) pause();
    char buf[64] = {0};
    struct sockaddr_un from;
    socklen_t len = sizeof from;
    if (recvfrom(s, buf, sizeof buf - 1, MSG_DONTWAIT, (void *)&from, &len) != 6 || strcmp(buf, "queued")) fail("the queued datagram");
    if (strcmp(from.sun_path, snd.sun_path)) { printf("FAIL: the queued datagram comes from '%s'\n", from.sun_path); return 1; }
    if (send(c, "after", 5, 0) != 5) fail("the client sends after the restore");
    memset(buf, 0, sizeof buf);
    if (recv(s, buf, sizeof buf - 1, MSG_DONTWAIT) != 5 || strcmp(buf, "after")) fail("the server receives the client's");
    struct stat st;
    char fifopath[256];
    snprintf(fifopath, sizeof fifopath, "%s/srv", argv[1]);
    if (lstat(fifopath, &st) || !S_ISFIFO(st.st_mode)) { printf("FAIL: no FIFO at %s any more\n", fifopath); return 1; }
    struct stat l1, l2;
    if (relative && ((lstat("/srv", &l1) == 0 && S_ISSOCK(l1.st_mode)) || (lstat("/snd", &l2) == 0 && S_ISSOCK(l2.st_mode))))
        fail("a socket file was left in the cwd");
    if (write(fifo, "f", 1) != 1 || read(fifo, buf, 1) != 1) fail("the FIFO");
    len = sizeof from;
    if (getsockname(s, (void *)&from, &len) || strcmp(from.sun_path, srv.sun_path)) fail("the server's name");
    file_of(s, now, sizeof now);
    if (strcmp(now, file)) { printf("FAIL: the server's file is '%s', not '%s'\n", now, file); return 1; }
    printf("PASS\n");
    return 0;
}
