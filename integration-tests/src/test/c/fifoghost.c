/*
 * A FIFO whose node was deleted while it stays open, with bytes queued in it (CRIU's zdtm
 * fifo-ghost), held across two processes. Argument: DIR. The parent makes DIR/fifo (mode 0640,
 * owner 65534:65534), opens it for reading, a child opens it for writing, 1000 bytes are written,
 * the node is unlinked and a regular file "other" takes its path. Prints "ready" and waits for
 * SIGUSR2, then checks: the parent's fd is still a FIFO of mode 0640 and owner 65534:65534 with no
 * link left, its /proc link reads "DIR/fifo (deleted)", it reads the 1000 bytes in order and then
 * what the child writes on SIGUSR1 (one pipe across both processes), and DIR/fifo is still the
 * regular file "other" with its inode, with nothing else left in DIR. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define QUEUED 1000

static volatile sig_atomic_t check, more;
static void on_usr2(int sig) { (void)sig; check = 1; }
static void on_usr1(int sig) { (void)sig; more = 1; }

static void fail(const char *why) {
    printf("FAIL: %s (errno %d)\n", why, errno);
    exit(1);
}

static unsigned char byte_at(int i) { return (unsigned char)(i * 7 + 3); }

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: fifoghost DIR");
    setvbuf(stdout, NULL, _IOLBF, 0);
    char dir[PATH_MAX], path[PATH_MAX + 8];
    if (!realpath(argv[1], dir)) fail("realpath");
    snprintf(path, sizeof path, "%s/fifo", dir);
    signal(SIGUSR2, on_usr2);
    if (mkfifo(path, 0600) < 0 || chown(path, 65534, 65534) < 0 || chmod(path, 0640) < 0) fail("mkfifo");
    int rw = open(path, O_RDWR), rd = open(path, O_RDONLY);
    if (rw < 0 || rd < 0) fail("open");
    pid_t child = fork();
    if (child < 0) fail("fork");
    if (child == 0) {
        signal(SIGUSR1, on_usr1);
        signal(SIGUSR2, SIG_IGN);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int wr = open(path, O_WRONLY);
        if (wr < 0) _exit(1);
        close(rw);
        close(rd);
        unsigned char buf[QUEUED];
        for (int i = 0; i < QUEUED; i++) buf[i] = byte_at(i);
        if (write(wr, buf, QUEUED) != QUEUED) _exit(1); /* one atomic write: less than PIPE_BUF */
        for (;;) {
            pause();
            if (more) {
                more = 0;
                if (write(wr, "more", 4) != 4) _exit(1);
            }
        }
    }
    struct pollfd pf = {.fd = rd, .events = POLLIN};
    if (poll(&pf, 1, 5000) != 1) fail("nothing queued");
    if (unlink(path) < 0) fail("unlink");
    close(rw);
    int other = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (other < 0 || write(other, "other", 5) != 5) fail("other");
    struct stat os;
    if (fstat(other, &os) < 0) fail("fstat other");
    close(other);
    printf("ready\n");
    while (!check) pause();
    struct stat st;
    if (fstat(rd, &st) < 0) fail("fstat");
    if (!S_ISFIFO(st.st_mode) || (st.st_mode & 07777) != 0640) fail("not a FIFO of mode 0640");
    if (st.st_uid != 65534 || st.st_gid != 65534) fail("the FIFO's owner changed");
    if (st.st_nlink != 0) fail("the FIFO has a link again");
    char link[64], target[PATH_MAX + 32], want[PATH_MAX + 32];
    snprintf(link, sizeof link, "/proc/self/fd/%d", rd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 0) fail("readlink");
    target[n] = 0;
    snprintf(want, sizeof want, "%s (deleted)", path);
    if (strcmp(target, want)) {
        printf("FAIL: the fd names %s, not %s\n", target, want);
        return 1;
    }
    unsigned char buf[QUEUED];
    size_t got = 0;
    while (got < QUEUED) {
        n = read(rd, buf + got, QUEUED - got);
        if (n <= 0) fail("read the queued bytes");
        got += n;
    }
    for (int i = 0; i < QUEUED; i++)
        if (buf[i] != byte_at(i)) fail("the queued bytes changed");
    if (poll(&pf, 1, 0) != 0) fail("more than the queued bytes");
    kill(child, SIGUSR1);
    if (poll(&pf, 1, 5000) != 1 || read(rd, buf, 4) != 4 || memcmp(buf, "more", 4)) fail("the child's bytes did not arrive");
    struct stat now;
    int fd = open(path, O_RDONLY);
    if (fd < 0 || fstat(fd, &now) < 0 || !S_ISREG(now.st_mode) || now.st_ino != os.st_ino) fail("DIR/fifo is not the file 'other'");
    if (read(fd, buf, 5) != 5 || memcmp(buf, "other", 5)) fail("'other' changed");
    DIR *d = opendir(dir);
    struct dirent *e;
    int entries = 0;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) entries++;
    if (entries != 1) fail("something was left in DIR");
    kill(child, SIGKILL);
    printf("PASS\n");
    return 0;
}
