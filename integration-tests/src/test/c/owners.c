/*
 * Owner and mode of files cryo makes again: a deleted file held open (a ghost) and a memfd, each
 * given another owner (fchown to 1234:2345, so start it as root) and mode (0741, 0642) by the
 * program, and the deleted file an old mtime (futimens). Argument: a directory for the deleted file.
 * On SIGUSR2 checks with fstat that both still have that owner and mode and their bytes, and the
 * deleted file its mtime (zdtm's file_attr found it lost), and prints PASS or FAIL: reason.
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

static void expect(int fd, const char *what, mode_t mode, const char *bytes) {
    struct stat st;
    char buf[64] = {0}, msg[256];
    if (fstat(fd, &st) < 0) fail("fstat");
    if ((st.st_mode & 07777) != mode || st.st_uid != 1234 || st.st_gid != 2345) {
        snprintf(msg, sizeof msg, "%s: mode %o owner %u:%u, expected %o 1234:2345", what, st.st_mode & 07777,
                 st.st_uid, st.st_gid, mode);
        fail(msg);
    }
    if (pread(fd, buf, strlen(bytes), 0) != (ssize_t)strlen(bytes) || strcmp(buf, bytes)) {
        snprintf(msg, sizeof msg, "%s: its bytes changed", what);
        fail(msg);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: owners DIR");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    char path[4096];
    snprintf(path, sizeof path, "%s/ghost", argv[1]);
    int g = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (g < 0 || write(g, "ghost bytes", 11) != 11) fail("ghost file");
    if (fchown(g, 1234, 2345) < 0 || fchmod(g, 0741) < 0 || unlink(path) < 0) fail("ghost owner");
    struct timespec times[2] = {{0, UTIME_OMIT}, {123456, 789}};
    if (futimens(g, times) < 0) fail("ghost mtime");
    int m = memfd_create("owned", MFD_CLOEXEC);
    if (m < 0 || write(m, "memfd bytes", 11) != 11) fail("memfd");
    if (fchown(m, 1234, 2345) < 0 || fchmod(m, 0642) < 0) fail("memfd owner");
    printf("ready\n");
    while (!check) pause();
    expect(g, "the deleted file", 0741, "ghost bytes");
    struct stat st;
    if (fstat(g, &st) < 0 || st.st_mtim.tv_sec != 123456 || st.st_mtim.tv_nsec != 789) {
        printf("FAIL: the deleted file's mtime is %ld.%09ld, not 123456.000000789\n", (long)st.st_mtim.tv_sec,
               st.st_mtim.tv_nsec);
        return 1;
    }
    expect(m, "the memfd", 0642, "memfd bytes");
    printf("PASS\n");
    return 0;
}
