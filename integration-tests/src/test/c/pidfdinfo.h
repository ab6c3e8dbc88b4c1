/* pidfd helpers for the workloads: constants older headers lack, and the pid a pidfd refers to. */
#ifndef CRYO_PIDFDINFO_H
#define CRYO_PIDFDINFO_H

#include <fcntl.h>
#include <stdio.h>

#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* The pid a pidfd refers to, as its fdinfo's "Pid:" line shows it (-1 for a dead process; -2 unreadable). */
static int fdinfo_pid(int fd) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
    FILE *f = fopen(path, "r");
    if (!f) return -2;
    int pid = -2;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Pid: %d", &pid) == 1) break;
    fclose(f);
    return pid;
}

#endif
