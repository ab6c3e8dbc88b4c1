/*
 * A program run from a memfd (execveat(fd, "", AT_EMPTY_PATH), as runc, systemd and "fileless"
 * launchers do): the memfd holds a script "#!/bin/true", is mapped shared and writable, and is
 * executed by a child before the dump. On SIGUSR2 a child executes it again and must exit 0.
 * zdtm's memfd04/05 found it: the restored fd and the restored mapping were reopens of the memfd
 * through /proc, which count as writers of the inode, so the exec failed with ETXTBSY.
 * With the argument "fd-only" there is no mapping. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

static const char script[] = "#!/bin/true\n";

/* execveat of the memfd in a child: 0 when the child ran /bin/true, else the errno of the exec */
static int run(int fd) {
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = { "true", NULL }, *envp[] = { NULL };
        syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
        _exit(errno == 0 ? 255 : errno);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid) fail("fork/waitpid");
    return WIFEXITED(st) ? WEXITSTATUS(st) : 254;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int fd = memfd_create("script", 0);
    if (fd < 0 || write(fd, script, strlen(script)) != (ssize_t)strlen(script)) fail("memfd");
    if (argc < 2 || strcmp(argv[1], "fd-only")) {
        char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) fail("mmap");
        if (m[0] != '#') fail("mapping");
    }
    int e = run(fd);
    if (e) { printf("FAIL: exec of the memfd before the dump: errno %d\n", e); return 1; }
    printf("ready\n");
    while (!check) pause();
    e = run(fd);
    if (e) { printf("FAIL: exec of the memfd after the restore: %s\n", strerror(e)); return 1; }
    printf("PASS\n");
    return 0;
}
