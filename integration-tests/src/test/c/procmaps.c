/*
 * A parent opens /proc/self/maps, reads 100 bytes of it and forks: parent and child share that one
 * open file (its offset), which names the parent's maps however the child reaches it (DMTCP's
 * procfd1, from an MPICH mpd). After the restore, in both: the fd still names the parent's
 * /proc/PID/maps, at offset 100, and reads on from there what the parent's maps now hold.
 * On SIGUSR2 the parent asks the child (a pipe), then prints PASS or FAIL.
 */
#include "workload.h"
#include <sys/prctl.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int fd;
static pid_t parent;

static const char *checkFd(void) {
    static char why[256];
    char link[64], want[64], got[256];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    snprintf(want, sizeof want, "/proc/%d/maps", parent);
    ssize_t n = readlink(link, got, sizeof got - 1);
    if (n < 0) return "readlink";
    got[n] = 0;
    if (strcmp(got, want) != 0) {
        snprintf(why, sizeof why, "fd names %s, not %s", got, want);
        return why;
    }
    off_t at = lseek(fd, 0, SEEK_CUR);
    if (at != 100) {
        snprintf(why, sizeof why, "offset %lld, not 100", (long long)at);
        return why;
    }
    char a[64], b[64];
    int fresh = open(want, O_RDONLY);
    if (fresh < 0 || pread(fresh, b, sizeof b, 100) != sizeof b || pread(fd, a, sizeof a, 100) != sizeof a) return "read";
    close(fresh);
    if (memcmp(a, b, sizeof a) != 0) return "the fd does not read the parent's maps";
    return NULL;
}

int main(void) {
    signal(SIGUSR2, on_usr2);
    parent = getpid();
    fd = open("/proc/self/maps", O_RDONLY);
    char buf[100];
    if (fd < 0 || read(fd, buf, sizeof buf) != sizeof buf) fail("open /proc/self/maps");
    int ask[2], answer[2], settled[2];
    if (pipe(ask) || pipe(answer) || pipe(settled)) fail("pipe");
    pid_t child = fork();
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* gone with its parent, whatever its verdict */
        close(settled[0]);
        close(settled[1]); /* the parent says ready once this child is as dumped, not before */
        char c;
        if (read(ask[0], &c, 1) != 1) _exit(2);
        const char *why = checkFd();
        char out[256];
        snprintf(out, sizeof out, "%s", why ? why : "ok");
        write(answer[1], out, strlen(out) + 1);
        _exit(0);
    }
    close(settled[1]);
    char none;
    if (read(settled[0], &none, 1) != 0) fail("read");
    close(settled[0]);
    printf("ready\n");
    fflush(stdout);
    while (!check) pause();
    const char *why = checkFd();
    if (why) { printf("FAIL: parent: %s\n", why); return 1; }
    char out[256] = {0};
    write(ask[1], "?", 1);
    if (read(answer[0], out, sizeof out) <= 0) fail("no answer from the child");
    waitpid(child, NULL, 0);
    if (strcmp(out, "ok") != 0) { printf("FAIL: child: %s\n", out); return 1; }
    printf("PASS\n");
    return 0;
}
