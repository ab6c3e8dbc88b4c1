/*
 * Files on a mount no path reaches any more (zdtm detached_mount, anonymous_mount): DIR gets a
 * tmpfs holding a file f, then the process keeps, by MODE,
 *   file  an fd of f,                      then unmounts DIR with MNT_DETACH
 *   cwd   DIR as its current directory,    then unmounts DIR with MNT_DETACH
 *   map   a shared mapping of f,           then unmounts DIR with MNT_DETACH
 *   tree  an open_tree(OPEN_TREE_CLONE) fd of DIR, then unmounts DIR
 * Nothing is left mounted: the tmpfs lives only as long as the process. Prints "ready", then
 * waits (600 s at most) to be killed; a restore would have nothing to reopen those by.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "workload.h"

int main(int argc, char **argv) {
    if (argc < 3) fail("usage: detached file|cwd|map|tree DIR");
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *mode = argv[1], *dir = argv[2];
    char f[4096];
    snprintf(f, sizeof f, "%s/f", dir);
    if (mount("cryo-detached", dir, "tmpfs", 0, NULL)) fail("mount tmpfs");
    int fd = open(f, O_CREAT | O_RDWR, 0600);
    if (fd < 0 || ftruncate(fd, 4096)) fail("create f");
    if (!strcmp(mode, "map")) {
        char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) fail("mmap");
        strcpy(m, "on a detached tmpfs");
    }
    if (strcmp(mode, "file")) close(fd);
    if (!strcmp(mode, "cwd") && chdir(dir)) fail("chdir");
    if (!strcmp(mode, "tree")) {
        if (syscall(SYS_open_tree, AT_FDCWD, dir, 1 /* OPEN_TREE_CLONE */) < 0) fail("open_tree");
        if (umount(dir)) fail("umount");
    } else if (umount2(dir, MNT_DETACH)) {
        fail("umount2 MNT_DETACH");
    }
    printf("ready\n");
    alarm(600);
    for (;;) pause();
}
