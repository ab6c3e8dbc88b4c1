/* The mount an fd was opened through, as its fdinfo says (mnt_id), or -1. */
#ifndef FDMOUNT_H
#define FDMOUNT_H
#include <stdio.h>

static int fd_mnt_id(int fd)
{
    char path[64], line[256];
    int id = -1;
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "mnt_id: %d", &id) == 1)
            break;
    if (f)
        fclose(f);
    return id;
}
#endif
