/*
 * overmounted DIR — run in a mount namespace of its own (`unshare -m`): mounts a tmpfs on DIR, opens DIR/F, then
 * binds DIR over itself (zdtm's overmounted_file). The fd stays on the covered mount; a restore reopening DIR/F by
 * path put it on the covering one (its mount id changed, and an umount of the covering mount then found it busy).
 * The dump refuses it. On SIGUSR2 checks that the fd reads its bytes and is on the covered mount (the covering
 * one's parent), and that the covering mount can be unmounted. Prints "PASS" or "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>
#include "workload.h"
#include "fdmount.h"

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc != 2)
        fail("usage: overmounted DIR");
    char file[2048];
    snprintf(file, sizeof file, "%s/F", argv[1]);
    if (mount("cryo-under", argv[1], "tmpfs", 0, "size=1m"))
        fail("mount a tmpfs on DIR");
    int w = open(file, O_CREAT | O_WRONLY, 0600);
    if (w < 0 || write(w, "Data", 4) != 4 || close(w))
        fail("write DIR/F");
    int fd = open(file, O_RDONLY);
    if (fd < 0)
        fail("open DIR/F");
    int under = fd_mnt_id(fd);
    if (mount(argv[1], argv[1], NULL, MS_BIND, NULL))
        fail("bind DIR over itself");
    printf("ready\n");
    while (!check)
        pause();
    char buf[4];
    if (pread(fd, buf, 4, 0) != 4 || memcmp(buf, "Data", 4))
        fail("the fd's bytes");
    if (fd_mnt_id(fd) != under)
        fail("the fd is not on the covered mount");
    if (umount(argv[1]))
        fail("umount the covering mount");
    printf("PASS\n");
    return 0;
}
