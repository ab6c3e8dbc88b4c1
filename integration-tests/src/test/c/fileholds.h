/* Whether DIR/NAME reads WANT exactly: the check of the tmpfs workloads (coveredtmpfs.c, childcover.c). */
#ifndef CRYO_FILEHOLDS_H
#define CRYO_FILEHOLDS_H

#include <stdio.h>
#include <string.h>

static int reads(const char *dir, const char *name, const char *want)
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

#endif
