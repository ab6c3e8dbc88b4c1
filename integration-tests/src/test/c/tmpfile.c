/*
 * A file made with O_TMPFILE (never had a name: MariaDB's temporary tables, or a file written then
 * published with linkat, the atomic-create idiom). Argument: a directory. Holds one such file with
 * bytes and mode 0640, another mapped MAP_SHARED; on SIGUSR2 checks both still hold their bytes and
 * that the first can still be given a name (linkat through /proc/self/fd: only a file made with
 * O_TMPFILE can), then prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: tmpfile DIR");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int t = open(argv[1], O_TMPFILE | O_RDWR, 0640);
    if (t < 0 || write(t, "tmpfile bytes", 13) != 13) fail("O_TMPFILE");
    int m = open(argv[1], O_TMPFILE | O_RDWR, 0600);
    if (m < 0 || ftruncate(m, 4096) < 0) fail("mapped O_TMPFILE");
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
    if (p == MAP_FAILED) fail("mmap");
    close(m);
    strcpy(p, "mapped bytes");
    printf("ready\n");
    while (!check) pause();
    char buf[32] = {0}, path[64], name[4096];
    struct stat st;
    if (pread(t, buf, 13, 0) != 13 || strcmp(buf, "tmpfile bytes")) fail("its bytes changed");
    if (lseek(t, 0, SEEK_CUR) != 13) fail("its offset changed");
    if (fstat(t, &st) < 0 || (st.st_mode & 07777) != 0640 || st.st_nlink != 0) fail("its mode or link count changed");
    if (strcmp(p, "mapped bytes")) fail("the mapped bytes changed");
    snprintf(path, sizeof path, "/proc/self/fd/%d", t);
    snprintf(name, sizeof name, "%s/published", argv[1]);
    if (linkat(AT_FDCWD, path, AT_FDCWD, name, AT_SYMLINK_FOLLOW) < 0) fail("linkat: it can no longer be named");
    if (stat(name, &st) < 0 || st.st_size != 13) fail("the published file");
    printf("PASS\n");
    return 0;
}
