/*
 * An audit login uid in a user namespace, as zdtm's loginuid in its uns flavor: it sets its login uid to
 * 100005 (as root, none set yet), then takes a user namespace of its own mapping root to itself and
 * 100001-165535 outside to 1-65535 inside (maps written by a helper child still outside), where its login uid
 * reads 5. The restore wrote
 * the host's 100005 from inside the namespace: EINVAL after the killing dump. On SIGUSR2 it checks it reads 5
 * again. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"
#include "userns.h"

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f)) fail(path);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    write_file("/proc/self/loginuid", "100005");
    own_user_namespace("0 0 1\n1 100001 65535\n");
    printf("ready\n");
    while (!check) pause();
    char buf[32] = {0};
    int fd = open("/proc/self/loginuid", O_RDONLY);
    if (fd < 0 || read(fd, buf, sizeof buf - 1) <= 0) fail("read loginuid");
    if (strcmp(buf, "5")) {
        printf("FAIL: login uid %s, not 5\n", buf);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
