/*
 * A current directory that was removed, with its parent: argv[1]/gone/cwd is entered, then both
 * removed. On SIGUSR2 checks /proc/self/cwd still names ".../gone/cwd (deleted)", "." is a directory
 * with no links, nothing can be created in it, and neither path exists; prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: cwdgone DIR");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    char parent[4096], dir[4096], want[4200], link[4200];
    snprintf(parent, sizeof parent, "%s/gone", argv[1]);
    snprintf(dir, sizeof dir, "%s/gone/cwd", argv[1]);
    if (mkdir(parent, 0755) < 0 || mkdir(dir, 0700) < 0) fail("mkdir");
    if (chdir(dir) < 0) fail("chdir");
    if (rmdir(dir) < 0 || rmdir(parent) < 0) fail("rmdir");
    printf("ready\n");
    while (!check) pause();

    snprintf(want, sizeof want, "%s (deleted)", dir);
    ssize_t n = readlink("/proc/self/cwd", link, sizeof link - 1);
    if (n < 0) fail("readlink");
    link[n] = 0;
    if (strcmp(link, want) != 0) {
        printf("FAIL: cwd is '%s', expected '%s'\n", link, want);
        return 1;
    }
    struct stat st;
    if (stat(".", &st) < 0 || !S_ISDIR(st.st_mode) || st.st_nlink != 0) fail("'.' is not a removed directory");
    if (open("x", O_CREAT | O_WRONLY, 0600) >= 0 || errno != ENOENT) fail("a file could be created in it");
    if (access(dir, F_OK) == 0 || access(parent, F_OK) == 0) fail("the removed directories exist again");
    printf("PASS\n");
    return 0;
}
