/*
 * nsowner — run as an unprivileged user: forks a child that unshares a user namespace of its own
 * (mapping the user to itself) and, never exec'ing, opens FILE (argv[1]) for appending and forks a
 * counting shell that inherits it as fd 5: the shell's fd is the same open file as its parent's, a
 * task of the namespace that kept the memory it was forked with. Prints "ready" once counting.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void put(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0 || write(fd, text, strlen(text)) < 0) {
        perror(path);
        exit(1);
    }
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: nsowner FILE\n");
        return 2;
    }
    pid_t child = fork();
    if (child == 0) {
        char map[64];
        uid_t uid = getuid();
        gid_t gid = getgid();
        if (unshare(CLONE_NEWUSER) != 0) {
            perror("unshare");
            return 1;
        }
        snprintf(map, sizeof map, "%u %u 1\n", uid, uid);
        put("/proc/self/uid_map", map);
        put("/proc/self/setgroups", "deny");
        snprintf(map, sizeof map, "%u %u 1\n", gid, gid);
        put("/proc/self/gid_map", map);
        int fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT, 0644);
        if (fd < 0 || dup2(fd, 5) < 0) {
            perror(argv[1]);
            return 1;
        }
        pid_t counter = fork();
        if (counter == 0) {
            execl("/bin/sh", "sh", "-c", "i=0; while [ $i -lt 3000 ]; do i=$((i+1)); echo $i >&5; sleep 0.2; done",
                  (char *)NULL);
            _exit(127);
        }
        printf("ready\n");
        fflush(stdout);
        waitpid(counter, NULL, 0);
        return 0;
    }
    waitpid(child, NULL, 0);
    return 0;
}
