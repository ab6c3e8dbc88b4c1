/*
 * A deleted file on a mount its namespace made read-only after the file was opened (zdtm's ghost_on_rofs in its
 * ns flavor). Run as `rofsghost ROOT` (ROOT a directory of the host holding this static binary and an empty
 * mnt/): it takes a mount namespace with ROOT as its root, mounts a tmpfs on /mnt, opens /mnt/g read-only,
 * removes it and remounts /mnt read-only (a bind remount: the mount, not the file system). The restore made
 * the file again on that read-only mount: "cannot recreate the deleted file /mnt/g ...: Read-only file
 * system" after the killing dump. On SIGUSR2 checks the file's bytes and links, and that /mnt is read-only
 * still. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "workload.h"
#include "pivot.h"

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) fail("usage: rofsghost ROOT");
    signal(SIGUSR2, on_usr2);
    pivot_into(argv[1], 1);
    if (mount("rofsghost", "/mnt", "tmpfs", 0, "size=1m")) fail("mount a tmpfs on /mnt");
    int w = open("/mnt/g", O_WRONLY | O_CREAT | O_EXCL, 0640);
    if (w < 0 || write(w, "ghost data", 10) != 10 || close(w)) fail("write /mnt/g");
    int fd = open("/mnt/g", O_RDONLY);
    if (fd < 0 || unlink("/mnt/g")) fail("open and unlink /mnt/g");
    if (mount(NULL, "/mnt", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL)) fail("remount /mnt read-only");
    printf("ready\n");
    while (!check) pause();
    char buf[16] = {0};
    struct stat st;
    if (fstat(fd, &st) || st.st_nlink != 0 || (st.st_mode & 07777) != 0640) fail("the file's links or mode");
    if (pread(fd, buf, sizeof buf, 0) != 10 || memcmp(buf, "ghost data", 10)) fail("the file's bytes");
    struct statvfs v;
    if (statvfs("/mnt", &v) || !(v.f_flag & ST_RDONLY)) fail("/mnt is no longer read-only");
    if (open("/mnt/new", O_WRONLY | O_CREAT, 0600) >= 0 || errno != EROFS) fail("a file could be made on /mnt");
    printf("PASS\n");
    return 0;
}
