/*
 * A file of a hugetlbfs mount mapped shared, as DPDK maps its hugepage files: DIR/cryo-hugefile of
 * two 2 MiB pages, held open and mapped MAP_SHARED; the first page written by the process, the
 * second by a child that has exited since. The file is also mapped MAP_PRIVATE, its first page
 * copied on write, the second only read. Prints "ready"; on SIGUSR2 checks that the areas are still
 * hugetlb memory in 2 MiB pages with every page's bytes, that the fd is still that file at the same
 * offset, and that a write through the shared mapping reads back through the fd and through the
 * private mapping's page never copied (still the file's); prints PASS or FAIL: reason.
 * With "unlink" after DIR the file is unlinked before "ready", as qemu's -mem-path and DPDK's
 * --huge-unlink do: then it must still be a deleted file of that size (another inode after a restore).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "hugetlbarea.h"

#define HUGE (2 * 1024 * 1024)

static volatile sig_atomic_t check;
static void on_usr2(int sig) { (void)sig; check = 1; }
static void fail(const char *why) { printf("FAIL: %s\n", why); exit(1); }

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2) fail("usage: hugetlbfs DIR [unlink]");
    int unlinked = argc > 2 && strcmp(argv[2], "unlink") == 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/cryo-hugefile", argv[1]);
    int fd = open(path, O_CREAT | O_RDWR, 0600);
    if (fd < 0 || ftruncate(fd, 2 * HUGE) != 0) fail("open or ftruncate the hugetlbfs file");
    volatile unsigned char *p = mmap(NULL, 2 * HUGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) fail("mmap");
    for (int i = 0; i < HUGE; i += 512) p[i] = (unsigned char)(i / 512 * 3 + 1);
    pid_t writer = fork();
    if (writer == 0) {
        for (int i = 0; i < HUGE; i += 512) p[HUGE + i] = (unsigned char)(i / 512 * 5 + 2);
        _exit(0);
    }
    if (writer < 0 || waitpid(writer, NULL, 0) != writer) fail("the second page's writer");
    volatile unsigned char *q = mmap(NULL, 2 * HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (q == MAP_FAILED) fail("mmap MAP_PRIVATE");
    for (int i = 0; i < HUGE; i += 512) q[i] = (unsigned char)(i / 512 * 7 + 3);
    if (q[HUGE + 512] != p[HUGE + 512]) fail("the private mapping does not show the file");
    if (lseek(fd, 12345, SEEK_SET) != 12345) fail("lseek");
    if (unlinked && unlink(path) != 0) fail("unlink");
    struct stat before;
    if (fstat(fd, &before) != 0) fail("fstat");
    printf("ready\n");
    while (!check) pause();
    if (!hugetlb_area(p) || !hugetlb_area(q)) fail("an area is no longer hugetlb memory in 2 MiB pages");
    for (int i = 0; i < HUGE; i += 512) {
        if (p[i] != (unsigned char)(i / 512 * 3 + 1)) fail("the first page changed");
        if (p[HUGE + i] != (unsigned char)(i / 512 * 5 + 2)) fail("the page only an exited child wrote changed");
        if (q[i] != (unsigned char)(i / 512 * 7 + 3)) fail("the private copy of the first page changed");
        if (q[HUGE + i] != p[HUGE + i]) fail("the private mapping's second page is not the file's");
    }
    struct stat now;
    if (fstat(fd, &now) != 0) fail("fstat after");
    if (!unlinked && (now.st_ino != before.st_ino || now.st_dev != before.st_dev)) fail("the fd is another file");
    if (unlinked && (now.st_nlink != 0 || now.st_size != before.st_size || now.st_dev != before.st_dev))
        fail("the fd is not a deleted file of the same size on the same mount");
    if (unlinked && access(path, F_OK) == 0) fail("the deleted file has a name again");
    if (lseek(fd, 0, SEEK_CUR) != 12345) fail("the fd's offset changed");
    p[HUGE + 7] = 0x5a;
    unsigned char b = 0;
    if (pread(fd, &b, 1, HUGE + 7) != 1 || b != 0x5a) fail("a write through the mapping does not read back through the fd");
    if (q[HUGE + 7] != 0x5a) fail("the private mapping's page never copied is a copy, no longer the file's");
    printf("PASS\n");
    return 0;
}
