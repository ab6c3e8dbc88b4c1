/*
 * Directories removed while held open: fd A of a removed directory "a", and a removed directory
 * "b" that is both the cwd and held by fd B (zdtm's rmdir_open and cwd02 found such fds refused as
 * "deleted files"). Argument: the directory to make them in. On SIGUSR2: both fds are directories
 * with no link left, B and the cwd are the same directory, A another one. Prints PASS or FAIL.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: dirgone DIR");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (chdir(argv[1]) || mkdir("a", 0750) || mkdir("b", 0700)) fail("mkdir");
    int a = open("a", O_RDONLY | O_DIRECTORY), b = open("b", O_RDONLY | O_DIRECTORY);
    if (a < 0 || b < 0 || chdir("b") || rmdir("../a") || rmdir("../b")) fail("open/rmdir");
    printf("ready\n");
    while (!check) pause();

    struct stat sa, sb, sc;
    if (fstat(a, &sa) || fstat(b, &sb) || stat(".", &sc)) fail("stat");
    if (!S_ISDIR(sa.st_mode) || !S_ISDIR(sb.st_mode)) fail("no longer directories");
    if (sa.st_nlink != 0 || sb.st_nlink != 0) fail("not removed any more");
    if ((sa.st_mode & 07777) != 0750 || (sb.st_mode & 07777) != 0700) fail("modes changed");
    if (sb.st_ino != sc.st_ino || sb.st_dev != sc.st_dev) fail("the cwd and fd B are not the same directory");
    if (sa.st_ino == sb.st_ino) fail("fd A and fd B are the same directory");
    if (mkdir("x", 0700) == 0 || errno != ENOENT) fail("a file could be made in the removed cwd");
    printf("PASS\n");
    return 0;
}
