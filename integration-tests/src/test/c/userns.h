/*
 * A user namespace of the caller's own with uid and gid map MAP (lines "inside outside count"), written by a
 * helper child that is still outside (a task in a new user namespace has no rights to write its own beyond
 * one line of its own ids). own_user_namespace_at: with {@code proc}, a directory fd of /proc opened before the
 * caller pivoted away from it (a task inside a container with no /proc). Needs workload.h's fail().
 */
#ifndef CRYO_USERNS_H
#define CRYO_USERNS_H

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static void own_user_namespace_at(int proc, const char *map) {
    int go[2];
    if (pipe(go)) fail("pipe");
    pid_t parent = getpid(), h = fork();
    if (h == 0) {
        char b, path[64];
        if (read(go[0], &b, 1) != 1) _exit(1);
        const char *files[] = {"uid_map", "gid_map"};
        for (int i = 0; i < 2; i++) {
            snprintf(path, sizeof path, "%d/%s", parent, files[i]);
            int fd = openat(proc, path, O_WRONLY);
            FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
            if (!f || fputs(map, f) < 0 || fclose(f)) _exit(1);
        }
        _exit(0);
    }
    if (unshare(CLONE_NEWUSER)) fail("unshare(CLONE_NEWUSER)");
    int status;
    if (write(go[1], "g", 1) != 1 || waitpid(h, &status, 0) != h || !WIFEXITED(status) || WEXITSTATUS(status))
        fail("the maps of its user namespace");
    close(go[0]), close(go[1]);
}

static void own_user_namespace(const char *map) {
    int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (proc < 0) fail("open /proc");
    own_user_namespace_at(proc, map);
    close(proc);
}

#endif
