/*
 * pidfds of children already reaped (a supervisor keeps the pidfd of a worker it has waited for;
 * zdtm's pidfd_dead): one of a child that exited with code 42, one (PIDFD_NONBLOCK, not close-on-exec)
 * of a child killed by SIGTERM, and a second pidfd of the first child opened apart (pidfds of one task
 * share their inode). On SIGUSR2 each must still be a pidfd of a dead task: fdinfo Pid -1, polls
 * readable, pidfd_send_signal fails with ESRCH, waitid(P_PIDFD) with ECHILD, the flags kept, the exit
 * status the kernel keeps for it (PIDFD_GET_INFO, Linux 6.15+) the child's; the two of the first
 * child one inode, the other child's another; prints PASS or FAIL: reason.
 * With "apart" a second child holds a pidfd of the first one too, opened itself before the first was
 * reaped (zdtm's pidfd_diffdead): on SIGUSR2 the root has the holder check its own (dead, exit status
 * kept) and hand over its inode, which must be the root's pidfd's: one dead process for both.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pidfdinfo.h"
#include "workload.h"


struct pidfd_info { /* the first version of the kernel's struct (64 bytes) */
    uint64_t mask, cgroupid;
    uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
    int32_t exit_code;
};
#define PIDFD_GET_INFO _IOWR(0xFF, 11, struct pidfd_info)
#define PIDFD_INFO_EXIT (1UL << 3)

static int status_of(int fd) {
    struct pidfd_info i;
    memset(&i, 0, sizeof i);
    i.mask = PIDFD_INFO_EXIT;
    if (ioctl(fd, PIDFD_GET_INFO, &i) < 0 || !(i.mask & PIDFD_INFO_EXIT)) return -1;
    return i.exit_code;
}

static int twin; /* a second pidfd of the first child */

static int dead_child(int how, unsigned flags) {
    pid_t c = fork();
    if (c == 0) {
        if (how == 0) _exit(42);
        for (;;) pause();
    }
    int fd = syscall(SYS_pidfd_open, c, flags);
    if (fd < 0) fail("pidfd_open");
    if (how == 0 && (twin = syscall(SYS_pidfd_open, c, 0)) < 0) fail("pidfd_open (twin)");
    if (how) kill(c, SIGTERM);
    waitpid(c, NULL, 0);
    return fd;
}

static const char *dead(int fd, int status) {
    static char why[128];
    struct pollfd p = {fd, POLLIN, 0};
    siginfo_t si;
    if (fdinfo_pid(fd) != -1) snprintf(why, sizeof why, "fdinfo names pid %d", fdinfo_pid(fd));
    else if (poll(&p, 1, 0) != 1 || !(p.revents & POLLIN)) snprintf(why, sizeof why, "not readable (revents %x)", p.revents);
    else if (syscall(SYS_pidfd_send_signal, fd, 0, NULL, 0) == 0 || errno != ESRCH) snprintf(why, sizeof why, "signal 0 gave errno %d", errno);
    else if (waitid(P_PIDFD, fd, &si, WEXITED | WNOHANG) == 0 || errno != ECHILD) snprintf(why, sizeof why, "waitid gave errno %d", errno);
    else if (status_of(fd) != status) snprintf(why, sizeof why, "exit status 0x%x, was 0x%x", status_of(fd), status);
    else return NULL;
    return why;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc > 1 && !strcmp(argv[1], "apart")) {
        int go[2], held[2], back[2];
        if (pipe(go) || pipe(held) || pipe(back)) fail("pipe");
        pid_t victim = fork();
        if (victim == 0) {
            char c;
            read(go[0], &c, 1);
            _exit(7);
        }
        pid_t holder = fork();
        if (holder == 0) {
            int fd = syscall(SYS_pidfd_open, victim, 0);
            if (fd < 0) fail("pidfd_open in the holder");
            write(held[1], "h", 1);
            char c;
            read(go[0], &c, 1); /* the victim has been told to exit: its status is 7 once reaped */
            while (fdinfo_pid(fd) != -1) usleep(1000); /* reaped by the root */
            int status = status_of(fd);
            write(held[1], "h", 1);
            while (!check) pause();
            struct stat st;
            const char *why = dead(fd, status);
            unsigned long ino = fstat(fd, &st) ? 0 : (unsigned long)st.st_ino;
            char msg[160];
            snprintf(msg, sizeof msg, "%lu %s", why ? 0UL : ino, why ? why : "");
            write(back[1], msg, strlen(msg) + 1);
            _exit(0);
        }
        char c;
        read(held[0], &c, 1);
        int fd = syscall(SYS_pidfd_open, victim, 0);
        if (fd < 0) fail("pidfd_open");
        write(go[1], "gg", 2);
        waitpid(victim, NULL, 0);
        int status = status_of(fd);
        read(held[0], &c, 1); /* the holder has seen it reaped too */
        printf("ready\n");
        while (!check) pause();
        const char *why = dead(fd, status);
        if (why) {
            printf("FAIL: the root's pidfd of the reaped child: %s\n", why);
            kill(holder, SIGKILL);
            return 1;
        }
        kill(holder, SIGUSR2);
        char msg[160] = "";
        ssize_t n = read(back[0], msg, sizeof msg - 1);
        int hs;
        if (n <= 0 || waitpid(holder, &hs, 0) != holder || hs != 0) {
            printf("FAIL: the holder gave no answer (%zd bytes, status 0x%x)\n", n, hs);
            return 1;
        }
        struct stat st;
        unsigned long ino = strtoul(msg, NULL, 10);
        if (ino == 0) {
            printf("FAIL: the holder's pidfd of the reaped child: %s\n", strchr(msg, ' ') + 1);
            return 1;
        }
        if (fstat(fd, &st) || st.st_ino != ino) {
            printf("FAIL: the two holders' pidfds of one reaped child are two inodes (%lu, %lu)\n",
                   (unsigned long)st.st_ino, ino);
            return 1;
        }
        printf("PASS\n");
        return 0;
    }
    int exited = dead_child(0, 0), killed = dead_child(1, PIDFD_NONBLOCK);
    fcntl(killed, F_SETFD, 0);
    int exited_status = status_of(exited), killed_status = status_of(killed); /* -1 before Linux 6.15 */
    printf("ready\n");
    while (!check) pause();
    const char *why;
    if ((why = dead(exited, exited_status))) {
        printf("FAIL: the pidfd of the child that exited: %s\n", why);
        return 1;
    }
    if ((why = dead(twin, exited_status))) {
        printf("FAIL: the second pidfd of the child that exited: %s\n", why);
        return 1;
    }
    struct stat a, b, k;
    if (fstat(exited, &a) || fstat(twin, &b) || fstat(killed, &k) || a.st_ino != b.st_ino || a.st_ino == k.st_ino) {
        printf("FAIL: the two pidfds of one dead child are not one inode (%lu, %lu), or the other child's is too (%lu)\n",
               (unsigned long)a.st_ino, (unsigned long)b.st_ino, (unsigned long)k.st_ino);
        return 1;
    }
    if ((why = dead(killed, killed_status))) {
        printf("FAIL: the pidfd of the child killed by SIGTERM: %s\n", why);
        return 1;
    }
    if (!(fcntl(killed, F_GETFL) & O_NONBLOCK) || (fcntl(killed, F_GETFD) & FD_CLOEXEC) || !(fcntl(exited, F_GETFD) & FD_CLOEXEC))
        fail("flags lost");
    printf("PASS\n");
    return 0;
}
