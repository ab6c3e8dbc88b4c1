/*
 * Files on a mount no path reaches any more (zdtm detached_mount, anonymous_mount): DIR gets a
 * tmpfs holding a file f, then the process keeps, by MODE,
 *   file  an fd of f holding bytes, its position moved, then unmounts DIR with MNT_DETACH (zdtm's
 *         detached_mount; carried: on SIGUSR2 it checks the bytes, the position, the fd's link "/f", that
 *         the file is on a tmpfs of a mount no namespace shows, and writes, then prints PASS or FAIL)
 *   bind  as file, f made on a tmpfs mounted on DIR/mnt and opened through a bind of it on DIR/bind, the
 *         bind unmounted with MNT_DETACH, the tmpfs left on DIR/mnt (zdtm's detached_bind_mount; carried; the
 *         test unmounts DIR/mnt): the same checks, and the file written through the fd is the one on DIR/mnt
 *   two   fds of f and of a file g beside it, then unmounts DIR with MNT_DETACH (refused: a restore makes a
 *         tmpfs for each open file)
 *   cwd   DIR as its current directory,    then unmounts DIR with MNT_DETACH
 *   map   a shared mapping of f,           then unmounts DIR with MNT_DETACH
 *   tree  an open_tree(OPEN_TREE_CLONE) fd of DIR, then unmounts DIR
 * Nothing is left mounted (but DIR/mnt in bind): the tmpfs lives only as long as the process. Prints "ready", then
 * waits (600 s at most) to be killed (file: to be checked); a restore would have nothing to reopen the others by.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "workload.h"

int main(int argc, char **argv) {
    if (argc < 3) fail("usage: detached file|bind|two|cwd|map|tree DIR");
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *mode = argv[1], *dir = argv[2];
    char f[4096];
    snprintf(f, sizeof f, "%s/f", dir);
    int bind = !strcmp(mode, "bind");
    char src[4096], dst[4096];
    snprintf(src, sizeof src, "%s/mnt", dir);
    snprintf(dst, sizeof dst, "%s/bind", dir);
    if (bind) {
        if (mkdir(src, 0700) || mkdir(dst, 0700) || mount("cryo-detached", src, "tmpfs", 0, NULL)
                || mount(src, dst, NULL, MS_BIND, NULL))
            fail("mount tmpfs and bind it");
        snprintf(f, sizeof f, "%s/f", dst);
        mode = "file";
    } else if (mount("cryo-detached", dir, "tmpfs", 0, NULL)) {
        fail("mount tmpfs");
    }
    int fd = open(f, O_CREAT | O_RDWR, 0600);
    if (fd < 0 || ftruncate(fd, 4096)) fail("create f");
    if (!strcmp(mode, "file") && (pwrite(fd, "on a detached tmpfs", 19, 100) != 19 || lseek(fd, 103, SEEK_SET) != 103))
        fail("write f");
    if (!strcmp(mode, "map")) {
        char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) fail("mmap");
        strcpy(m, "on a detached tmpfs");
    }
    int two = !strcmp(mode, "two");
    if (two) {
        char g[4096];
        snprintf(g, sizeof g, "%s/g", dir);
        if (open(g, O_CREAT | O_RDWR, 0600) != 4) fail("create g");
    }
    if (strcmp(mode, "file") && !two) close(fd);
    if (!strcmp(mode, "cwd") && chdir(dir)) fail("chdir");
    if (!strcmp(mode, "tree")) {
        if (syscall(SYS_open_tree, AT_FDCWD, dir, 1 /* OPEN_TREE_CLONE */) < 0) fail("open_tree");
        if (umount(dir)) fail("umount");
    } else if (umount2(bind ? dst : dir, MNT_DETACH)) {
        fail("umount2 MNT_DETACH");
    }
    printf("ready\n");
    alarm(600);
    if (strcmp(mode, "file")) for (;;) pause();
    signal(SIGUSR2, on_usr2);
    while (!check) pause();
    char buf[32] = {0}, link[64] = {0};
    if (read(fd, buf, 16) != 16 || strcmp(buf, "a detached tmpfs")) fail("the bytes at the position");
    if (readlink("/proc/self/fd/3", link, sizeof link - 1) < 0 || strcmp(link, "/f")) fail("the fd's link is not /f");
    struct statfs fs;
    if (fstatfs(fd, &fs) || fs.f_type != 0x01021994) fail("not on a tmpfs");
    FILE *info = fopen("/proc/self/fdinfo/3", "r"), *mounts = fopen("/proc/self/mountinfo", "r");
    char line[4096];
    int mnt = -1;
    while (info && fgets(line, sizeof line, info)) sscanf(line, "mnt_id: %d", &mnt);
    while (mounts && fgets(line, sizeof line, mounts)) {
        int id;
        if (sscanf(line, "%d ", &id) == 1 && id == mnt) fail("its mount is attached");
    }
    if (mnt < 0 || pwrite(fd, "x", 1, 4095) != 1 || lseek(fd, 0, SEEK_END) != 4096) fail("a write at its end");
    snprintf(f, sizeof f, "%s/f", src);
    int same = bind ? open(f, O_RDONLY) : -1;
    if (bind && (same < 0 || pread(same, buf, 1, 4095) != 1 || buf[0] != 'x')) fail("the write not in the file on DIR/mnt");
    printf("PASS\n");
    return 0;
}
