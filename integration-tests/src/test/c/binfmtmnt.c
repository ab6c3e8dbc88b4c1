/*
 * binfmtmnt DIR — in a mount namespace of its own (`unshare -m`), DIR holds a binfmt_misc mount the test's
 * shell made before exec'ing this (zdtm's binfmt_misc, mountpoints, ns flavor: refused before, "a new
 * binfmt_misc mount is not supported yet"). Mounted in the host's user namespace it is the host's instance.
 * On SIGUSR2 checks that DIR is still a binfmt_misc mount showing its status and register files. Prints
 * "PASS" or "FAIL: <reason>". With `entry` it registers an entry cryo37 (files ending .cryo37zz run by
 * /bin/true) before "ready", which a dump refuses, and removes it on SIGUSR2 (the kernel removes it anyway
 * with the instance's last mount, the namespace's).
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>
#include "workload.h"

#define BINFMTFS_MAGIC 0x42494e4d

static void check_binfmt(const char *dir) {
    struct statfs s;
    char path[4096];
    if (statfs(dir, &s) || s.f_type != BINFMTFS_MAGIC) fail("DIR is no binfmt_misc mount");
    snprintf(path, sizeof path, "%s/status", dir);
    if (access(path, R_OK)) fail("no status file");
    snprintf(path, sizeof path, "%s/register", dir);
    if (access(path, F_OK)) fail("no register file");
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) fail("usage: binfmtmnt DIR");
    signal(SIGUSR2, on_usr2);
    check_binfmt(argv[1]);
    char path[4096];
    int entry = argc > 2 && !strcmp(argv[2], "entry");
    if (entry) {
        snprintf(path, sizeof path, "%s/register", argv[1]);
        FILE *r = fopen(path, "w");
        if (!r || fputs(":cryo37:E::cryo37zz::/bin/true:", r) < 0 || fclose(r)) fail("register an entry");
    }
    printf("ready\n");
    while (!check) pause();
    check_binfmt(argv[1]);
    if (entry) {
        snprintf(path, sizeof path, "%s/cryo37", argv[1]);
        FILE *e = fopen(path, "w");
        if (!e || fputs("-1", e) < 0 || fclose(e)) fail("the entry is gone");
    }
    printf("PASS\n");
    return 0;
}
