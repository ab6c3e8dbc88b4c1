/*
 * One deleted file held by a parent and its child of one mount namespace, not cryo's, each through its own
 * open, the parent mapping it too (zdtm's ghost_shared_2proc in its ns flavor). Run as `ghostns ROOT` (ROOT a directory of the host holding
 * this static binary and an empty mnt/): it takes a mount namespace of its own with ROOT as its root, opens
 * /mnt/g (on ROOT), forks a child that opens /mnt/g again, and removes it. Each task named its own namespace,
 * so the restore took the child's open for another view of the file and, making the file for the parent,
 * looked for the child before it was made: "cannot open the directory of /mnt/g in the mount namespace of
 * pid C ... ENOENT" after the killing dump. On SIGUSR2 the child writes through its fd and the parent reads
 * that through its fd and its mapping: one file. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"
#include "pivot.h"

static void child(int ready) {
    int fd = open("/mnt/g", O_RDWR);
    if (fd < 0) fail("child: open /mnt/g");
    if (write(ready, "c", 1) != 1) fail("ready");
    while (!check) pause();
    struct stat st;
    if (fstat(fd, &st) || st.st_nlink != 0) fail("child: its file is not the deleted one");
    if (pwrite(fd, "child", 5, 100) != 5) fail("child: pwrite");
    _exit(0);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) fail("usage: ghostns ROOT");
    signal(SIGUSR2, on_usr2);
    pivot_into(argv[1], 1);
    int fd = open("/mnt/g", O_RDWR | O_CREAT | O_EXCL, 0640);
    if (fd < 0 || write(fd, "parent", 6) != 6 || ftruncate(fd, 4096)) fail("open /mnt/g");
    char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) fail("mmap /mnt/g");
    int p[2];
    if (pipe(p)) fail("pipe");
    pid_t c = fork();
    if (c < 0) fail("fork");
    if (c == 0) {
        close(p[0]);
        child(p[1]);
    }
    char b;
    if (read(p[0], &b, 1) != 1) fail("the child did not get ready");
    if (unlink("/mnt/g")) fail("unlink /mnt/g");
    printf("ready\n");
    while (!check) pause();
    kill(c, SIGUSR2);
    int status;
    if (waitpid(c, &status, 0) != c || !WIFEXITED(status) || WEXITSTATUS(status)) fail("the child failed");
    char buf[8] = {0};
    if (pread(fd, buf, 6, 0) != 6 || memcmp(buf, "parent", 6)) fail("parent: its bytes are gone");
    if (pread(fd, buf, 5, 100) != 5 || memcmp(buf, "child", 5)) fail("parent: the child's write went to another file");
    if (memcmp(m + 100, "child", 5)) fail("parent: its mapping is of another file");
    printf("PASS\n");
    return 0;
}
