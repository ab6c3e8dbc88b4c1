/*
 * binfmtpivot ROOT — a container's binfmt_misc mount (zdtm's mountpoints in its ns flavor): it takes a mount
 * namespace with ROOT as its root (pivot_root) and mounts binfmt_misc on /mnt with the source name "none". Where
 * cryo's own namespace mounts binfmt_misc too (zdtm_ct's "zdtm_binfmt", systemd's "binfmt_misc"), the restore bound
 * the container's from that mount, whose source name it then showed, and its check of the namespace failed. On
 * SIGUSR2 checks that /mnt is a binfmt_misc mount of source "none". Prints "PASS" or "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>
#include "workload.h"
#include "pivot.h"

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2)
        fail("usage: binfmtpivot ROOT");
    int proc = open("/proc", O_PATH | O_DIRECTORY); /* the root has no /proc: the host's, opened before */
    if (proc < 0)
        fail("open /proc");
    pivot_into(argv[1], 1);
    if (mount("none", "/mnt", "binfmt_misc", 0, NULL))
        fail("mount binfmt_misc on /mnt");
    printf("ready\n");
    while (!check)
        pause();
    int mi = openat(proc, "self/mountinfo", O_RDONLY);
    FILE *f = mi < 0 ? NULL : fdopen(mi, "r");
    char line[1024];
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, " /mnt ") && strstr(line, " - binfmt_misc ")) {
            if (!strstr(line, " - binfmt_misc none ")) {
                printf("FAIL: /mnt is %s", line);
                return 1;
            }
            printf("PASS\n");
            return 0;
        }
    fail("/mnt is no binfmt_misc mount");
}
