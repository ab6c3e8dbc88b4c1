/*
 * mntghost DIR [SIZE] — run in a mount namespace of its own (`unshare -m`): mounts a tmpfs on DIR, writes DIR/F,
 * holds it by an fd and a shared mapping, and removes it (zdtm's mntns_link_ghost without the child: a
 * deleted file on a tmpfs that only the tree's namespace mounts). The restore made it again where cryo
 * sees its path, on the host's file system under DIR. SIZE: the file's bytes (8192; more than 4 MiB travel apart).
 *
 * On SIGUSR2 checks that the fd's file is on DIR's tmpfs (its st_dev and its mount id, from fdinfo, are
 * DIR's), unlinked, with its bytes; that the mapping and the fd are one file; that the fd's link still reads
 * "DIR/F (deleted)" and DIR holds nothing else. Prints "PASS" or "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include "workload.h"
#include "fdmount.h"

static unsigned char gen(int i) { return (unsigned char)(i * 13 + 5); }

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc != 2 && argc != 3)
        fail("usage: mntghost DIR [SIZE]");
    int SIZE = argc == 3 ? atoi(argv[2]) : 8192;
    char opts[64];
    snprintf(opts, sizeof opts, "size=%dk", SIZE / 1024 + 1024);
    char file[2048], deleted[2100];
    snprintf(file, sizeof file, "%s/F", argv[1]);
    snprintf(deleted, sizeof deleted, "%s (deleted)", file);
    if (mount("cryo-ghost", argv[1], "tmpfs", 0, opts))
        fail("mount a tmpfs on DIR");
    int fd = open(file, O_CREAT | O_RDWR, 0640);
    unsigned char *buf = malloc(SIZE);
    for (int i = 0; i < SIZE; i++)
        buf[i] = gen(i);
    if (!buf || fd < 0 || write(fd, buf, SIZE) != SIZE)
        fail("write DIR/F");
    unsigned char *map = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED)
        fail("mmap DIR/F");
    if (unlink(file))
        fail("unlink DIR/F");
    printf("ready\n");
    while (!check)
        pause();

    int dirfd = open(argv[1], O_RDONLY | O_DIRECTORY);
    struct stat st, dst;
    if (dirfd < 0 || fstat(fd, &st) || fstat(dirfd, &dst))
        fail("stat the fd and DIR");
    if (st.st_dev != dst.st_dev) {
        printf("FAIL: the deleted file is on device %lx, DIR's tmpfs is %lx\n", (long)st.st_dev, (long)dst.st_dev);
        return 1;
    }
    if (fd_mnt_id(fd) != fd_mnt_id(dirfd)) {
        printf("FAIL: the deleted file is on mount %d, DIR's tmpfs is mount %d\n", fd_mnt_id(fd), fd_mnt_id(dirfd));
        return 1;
    }
    if (st.st_nlink != 0 || st.st_size != SIZE || (st.st_mode & 07777) != 0640)
        fail("the deleted file's links, size or mode");
    if (pread(fd, buf, SIZE, 0) != SIZE)
        fail("read the deleted file");
    for (int i = 0; i < SIZE; i++)
        if (buf[i] != gen(i) || map[i] != gen(i))
            fail("the deleted file's bytes");
    map[5] = 0xa5;
    if (pread(fd, buf, 1, 5) != 1 || buf[0] != 0xa5)
        fail("the mapping and the fd are not one file");
    char link[2200], proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(proc, link, sizeof link - 1);
    if (n < 0 || (link[n] = 0, strcmp(link, deleted)))
        fail("the fd's link does not read DIR/F (deleted)");
    DIR *d = fdopendir(dirfd);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            printf("FAIL: DIR holds %s\n", e->d_name);
            return 1;
        }
    printf("PASS\n");
    return 0;
}
