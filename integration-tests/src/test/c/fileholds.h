/*
 * The files and tmpfs mounts of the mount workloads (coveredtmpfs.c, childcover.c, buriedtmpfs.c, selfcover.c,
 * setnsback.c, childbind.c): a tmpfs mounted with a file whose text says which one it is, checked after the
 * restore by reading that file back. Each setup helper returns 0 or -1, as the syscalls it joins in a chain.
 */
#ifndef CRYO_FILEHOLDS_H
#define CRYO_FILEHOLDS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

/* Whether DIR/NAME reads WANT exactly. */
static inline int reads(const char *dir, const char *name, const char *want)
{
    char path[4096], buf[64] = {0};
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    return n == strlen(want) && !memcmp(buf, want, n);
}

/* Writes TEXT to DIR/NAME (made or emptied): 0, or -1 when it could not. */
static inline int writes(const char *dir, const char *name, const char *text)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    int ok = f && fputs(text, f) >= 0;
    return f && !fclose(f) && ok ? 0 : -1;
}

/* Writes DIR/NAME reading "NAME\n": the file that tells which mount DIR shows. */
static inline int names(const char *dir, const char *name)
{
    char text[256];
    snprintf(text, sizeof text, "%s\n", name);
    return writes(dir, name, text);
}

/* Mounts a 1 MiB tmpfs whose source is SOURCE on AT: 0 or -1. */
static inline int tmpfs_on(const char *at, const char *source)
{
    return mount(source, at, "tmpfs", 0, "size=1m");
}

/* Ends the workload with "FAIL: STEP: ..." unless DIR shows its file NAME reading "NAME\n". */
static inline void shows(const char *dir, const char *name, const char *step)
{
    char want[256];
    snprintf(want, sizeof want, "%s\n", name);
    if (!reads(dir, name, want)) {
        printf("FAIL: %s: %s does not show %s\n", step, dir, name);
        exit(1);
    }
}

/* Takes the mount on DIR off, or ends the workload with "FAIL: STEP: umount ...". */
static inline void takes_off(const char *dir, const char *step)
{
    if (umount2(dir, 0)) {
        printf("FAIL: %s: umount %s (errno %d)\n", step, dir, errno);
        exit(1);
    }
}

#endif
