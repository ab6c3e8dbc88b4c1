/*
 * A lease taken in a user namespace, as zdtm's file_lease00 in its uns flavor: run as `leasens DIR`, it takes a
 * user namespace of its own (root mapped to itself, 100001-165535 outside to 1-65535 inside), makes DIR/f owned
 * by uid 5 in there and takes a read lease on it with fsuid 5 (a lease needs the file's owner or CAP_LEASE, which
 * a task of a user namespace never has). The restore took it again with the task's own fsuid: EACCES after the
 * killing dump. On SIGUSR2 it checks F_GETLEASE. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/fsuid.h>
#include <unistd.h>

#include "workload.h"
#include "userns.h"

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) fail("usage: leasens DIR");
    signal(SIGUSR2, on_usr2);
    own_user_namespace("0 0 1\n1 100001 65535\n");
    char path[4096];
    snprintf(path, sizeof path, "%s/f", argv[1]);
    int fd = open(path, O_RDONLY | O_CREAT, 0644);
    if (fd < 0 || fchown(fd, 5, 5)) fail("a file of uid 5");
    setfsuid(5);
    if (fcntl(fd, F_SETLEASE, F_RDLCK)) fail("F_SETLEASE");
    setfsuid(0);
    printf("ready\n");
    while (!check) pause();
    int lease = fcntl(fd, F_GETLEASE);
    if (lease != F_RDLCK) {
        printf("FAIL: lease %d, not F_RDLCK\n", lease);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
