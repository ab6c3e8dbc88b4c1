/*
 * overmountlisten DIR — run in a mount namespace of its own (`unshare -m`): in DIR, a stream listener bound to the
 * relative name "d/sock" (mode 0640) and a datagram socket to "d/dg" (mode 0600), then a tmpfs mounted on d: both
 * socket files are now under that mount, both sockets still open. On SIGUSR2: the tmpfs can be unmounted (the
 * restored sockets must not pin it), both files are there again, sockets with their modes; a new client connects to
 * d/sock, is accepted and its bytes read there, and a datagram sent to d/dg is received. Prints "PASS" or
 * "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "workload.h"

static int bound(int type, const char *name, mode_t mode)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, name);
    int s = socket(AF_UNIX, type, 0);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || chmod(name, mode))
        fail(name);
    return s;
}

static void is_socket(const char *name, mode_t mode)
{
    struct stat st;
    if (stat(name, &st) || !S_ISSOCK(st.st_mode) || (st.st_mode & 07777) != mode)
        fail(name);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc != 2 || chdir(argv[1]) || mkdir("d", 0700))
        fail("usage: overmountlisten DIR (an empty directory)");
    int l = bound(SOCK_STREAM, "d/sock", 0640), dg = bound(SOCK_DGRAM, "d/dg", 0600);
    if (listen(l, 4))
        fail("listen");
    if (mount("cryo-over", "d", "tmpfs", 0, "size=1m"))
        fail("mount a tmpfs on d");
    printf("ready\n");
    while (!check)
        pause();
    if (umount("d"))
        fail("umount the tmpfs over d");
    is_socket("d/sock", 0640);
    is_socket("d/dg", 0600);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, "d/sock");
    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0), s;
    char buf[8];
    if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a) || write(c, "ping", 4) != 4)
        fail("connect to d/sock");
    if ((s = accept(l, NULL, NULL)) < 0 || read(s, buf, sizeof buf) != 4 || memcmp(buf, "ping", 4))
        fail("accept on d/sock");
    strcpy(a.sun_path, "d/dg");
    int sender = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (sender < 0 || sendto(sender, "dgram", 5, 0, (struct sockaddr *)&a, sizeof a) != 5)
        fail("send to d/dg");
    if (recv(dg, buf, sizeof buf, MSG_DONTWAIT) != 5 || memcmp(buf, "dgram", 5))
        fail("receive at d/dg");
    printf("PASS\n");
    return 0;
}
