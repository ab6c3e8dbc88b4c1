/*
 * A child shut in a chroot, as vsftpd's session processes are: it chroots into argv[1]/jail with
 * its cwd at /sub inside, holding an fd of a file outside, and waits on a pipe. On SIGUSR2 the
 * parent wakes it; the child checks "/" is still the jail (same inode, its marker file there, the
 * path outside gone), its cwd is /sub and the held file reads; the parent prints PASS or FAIL.
 * vsftpd found it: the restore opened the task's exe by its path after the chroot (ENOENT), once
 * the dump had killed the tree.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

static void child(const char *dir, const char *jail, int go) {
    char path[4096], sub[4200], buf[64];
    snprintf(path, sizeof path, "%s/outside.txt", dir);
    int held = open(path, O_RDONLY);
    if (held < 0) fail("open outside.txt");
    struct stat before;
    if (stat(jail, &before) < 0) fail("stat jail");
    snprintf(sub, sizeof sub, "%s/sub", jail);
    if (chdir(sub) < 0 || chroot(jail) < 0) fail("chroot");
    if (read(go, buf, 1) != 1) fail("read go");
    struct stat root;
    if (stat("/", &root) < 0 || root.st_ino != before.st_ino || root.st_dev != before.st_dev)
        fail("the child's root is not its jail");
    if (access("/inside", F_OK) < 0) fail("the jail's marker is not at /inside");
    if (access(dir, F_OK) == 0) fail("the path outside the jail is visible");
    if (!getcwd(buf, sizeof buf) || strcmp(buf, "/sub") != 0) fail("the cwd is not /sub");
    ssize_t n = pread(held, buf, sizeof buf - 1, 0);
    if (n != 8 || memcmp(buf, "outside\n", 8) != 0) fail("the held file does not read");
    exit(0);
}

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: chrooted DIR");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    char jail[4096], path[4200];
    snprintf(jail, sizeof jail, "%s/jail", argv[1]);
    snprintf(path, sizeof path, "%s/sub", jail);
    if (mkdir(jail, 0755) < 0 || mkdir(path, 0755) < 0) fail("mkdir");
    snprintf(path, sizeof path, "%s/inside", jail);
    FILE *f = fopen(path, "w");
    if (!f) fail("marker");
    fclose(f);
    snprintf(path, sizeof path, "%s/outside.txt", argv[1]);
    f = fopen(path, "w");
    if (!f || fputs("outside\n", f) < 0) fail("outside.txt");
    fclose(f);
    int go[2];
    if (pipe(go) < 0) fail("pipe");
    pid_t c = fork();
    if (c == 0) {
        close(go[1]);
        child(argv[1], jail, go[0]);
    }
    close(go[0]);
    char link[64], target[4200];
    snprintf(link, sizeof link, "/proc/%d/root", c);
    for (int i = 0; i < 500; i++) { /* ready once the child is in its jail */
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n > 0) { target[n] = 0; if (strcmp(target, jail) == 0) break; }
        usleep(10000);
    }
    printf("ready %d\n", c);
    while (!check) pause();

    if (write(go[1], "g", 1) != 1) fail("write go");
    int st;
    if (waitpid(c, &st, 0) != c) fail("waitpid");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) { printf("FAIL: the chrooted child failed its checks\n"); return 1; }
    printf("PASS\n");
    return 0;
}
