/*
 * binfmtmnt DIR [entry] — in a mount namespace of its own (`unshare -m`), DIR holds a binfmt_misc mount the
 * test's shell made before exec'ing this (zdtm's binfmt_misc, mountpoints, ns flavor: refused before, "a new
 * binfmt_misc mount is not supported yet"). Mounted in the host's user namespace it is the host's instance.
 * On SIGUSR2 checks that DIR is still a binfmt_misc mount showing its status and register files. Prints
 * "PASS" or "FAIL: <reason>". With `entry` it registers, before "ready", as zdtm's binfmt_misc does: cryo37m,
 * by magic at an offset with a mask, disabled, and cryo37e, files whose extension holds bytes of no text
 * (and ':', the usual delimiter, so the line must take another) with flags; the kernel removes them with
 * the instance's last mount (the killing dump's: a dump refused them before). On SIGUSR2 each must read
 * as before; then it removes them.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>
#include "workload.h"

#define BINFMTFS_MAGIC 0x42494e4d

static const char *names[] = {"cryo37m", "cryo37e"};

static void check_binfmt(const char *dir) {
    struct statfs s;
    char path[4096];
    if (statfs(dir, &s) || s.f_type != BINFMTFS_MAGIC) fail("DIR is no binfmt_misc mount");
    snprintf(path, sizeof path, "%s/status", dir);
    if (access(path, R_OK)) fail("no status file");
    snprintf(path, sizeof path, "%s/register", dir);
    if (access(path, F_OK)) fail("no register file");
}

static void put(const char *dir, const char *file, const char *text) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f)) fail(file);
}

static void get(const char *dir, const char *file, char *out, size_t size) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    if (!f) fail("an entry is gone");
    size_t n = fread(out, 1, size - 1, f);
    out[n] = 0;
    fclose(f);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) fail("usage: binfmtmnt DIR [entry]");
    signal(SIGUSR2, on_usr2);
    check_binfmt(argv[1]);
    int entry = argc > 2 && !strcmp(argv[2], "entry");
    char before[2][1024], after[1024];
    if (entry) {
        for (int i = 0; i < 2; i++) { /* left by a run killed before its end while another mount kept the instance */
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[1], names[i]);
            if (!access(path, F_OK)) put(argv[1], names[i], "-1");
        }
        put(argv[1], "register", ":cryo37m:M:3:\\x7f\\xcc\\x01:\\xff\\x0f\\xff:/bin/true:P");
        put(argv[1], "register", ";cryo37e;E;;x:\xc3\xa9\x01z;;/bin/sh;OC");
        put(argv[1], "cryo37m", "0");
        for (int i = 0; i < 2; i++) get(argv[1], names[i], before[i], sizeof before[i]);
    }
    printf("ready\n");
    while (!check) pause();
    check_binfmt(argv[1]);
    if (entry) {
        for (int i = 0; i < 2; i++) {
            get(argv[1], names[i], after, sizeof after);
            if (strcmp(after, before[i])) {
                printf("FAIL: %s reads\n%s\nnot\n%s\n", names[i], after, before[i]);
                return 1;
            }
        }
        for (int i = 0; i < 2; i++) put(argv[1], names[i], "-1");
    }
    printf("PASS\n");
    return 0;
}
