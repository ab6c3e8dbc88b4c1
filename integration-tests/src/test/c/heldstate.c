/*
 * State that only a syscall on an fd or on the task shows (no /proc file does), set the way a
 * program sets it, for the state comparator's wider view (HeldFdState) to hold the restore to:
 *   - a pipe with O_ASYNC, its SIGIO sent to the process group (F_SETOWN_EX F_OWNER_PGRP) as
 *     SIGRTMIN+2 (F_SETSIG), and a capacity of 128 KiB;
 *   - a pty pair: the master in packet mode (TIOCPKT), the slave with a window size, raw termios,
 *     locked termios (TIOCSLCKTRMIOS: its echo flag may not change) and exclusive (TIOCEXCL);
 *   - a memfd sealed against growing and shrinking, mode 0640;
 *   - the thread's I/O priority (best effort, level 6).
 * Prints "ready", then on SIGUSR2 checks each and prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "workload.h"

#define IOPRIO_PRIO_VALUE(class, data) (((class) << 13) | (data))
#define IOPRIO_CLASS_BE 2

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    signal(SIGRTMIN + 2, SIG_IGN);
    if (getpgrp() != getpid() && setpgid(0, 0)) fail("setpgid"); /* a session leader leads its group already */

    int p[2];
    if (pipe(p)) fail("pipe");
    struct f_owner_ex owner = {.type = F_OWNER_PGRP, .pid = getpgrp()};
    if (fcntl(p[0], F_SETOWN_EX, &owner) || fcntl(p[0], F_SETSIG, SIGRTMIN + 2)
        || fcntl(p[0], F_SETFL, O_ASYNC | O_NONBLOCK)) fail("pipe owner");
    if (fcntl(p[0], F_SETPIPE_SZ, 128 << 10) < 0) fail("F_SETPIPE_SZ");

    int master, slave;
    struct winsize ws = {.ws_row = 33, .ws_col = 101};
    if (openpty(&master, &slave, NULL, NULL, &ws)) fail("openpty");
    struct termios t;
    if (tcgetattr(slave, &t)) fail("tcgetattr");
    cfmakeraw(&t);
    if (tcsetattr(slave, TCSANOW, &t)) fail("tcsetattr");
    struct termios locked = {0};
    locked.c_lflag = ECHO;
    if (ioctl(slave, TIOCSLCKTRMIOS, &locked)) fail("TIOCSLCKTRMIOS");
    if (ioctl(slave, TIOCEXCL)) fail("TIOCEXCL");
    int on = 1; /* after the termios: cfmakeraw's IXON change would leave a status for the master to read */
    if (ioctl(master, TIOCPKT, &on)) fail("TIOCPKT");

    int m = memfd_create("held", MFD_ALLOW_SEALING);
    if (m < 0 || ftruncate(m, 8192) || fchmod(m, 0640)
        || fcntl(m, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK)) fail("memfd");

    if (syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 6))) fail("ioprio_set");

    printf("ready\n");
    while (!check) pause();

    struct f_owner_ex got;
    if (fcntl(p[0], F_GETOWN_EX, &got) || got.type != F_OWNER_PGRP || got.pid != getpgrp()) fail("pipe owner lost");
    if (fcntl(p[0], F_GETSIG) != SIGRTMIN + 2) fail("F_GETSIG lost");
    if (fcntl(p[0], F_GETPIPE_SZ) != 128 << 10) fail("pipe capacity lost");
    int pkt = 0;
    if (ioctl(master, TIOCGPKT, &pkt) || !pkt) fail("packet mode lost");
    struct winsize w;
    if (ioctl(slave, TIOCGWINSZ, &w) || w.ws_row != 33 || w.ws_col != 101) fail("window size lost");
    struct termios now;
    if (tcgetattr(slave, &now) || (now.c_lflag & (ICANON | ECHO))) fail("raw termios lost");
    struct termios lk;
    if (ioctl(slave, TIOCGLCKTRMIOS, &lk) || lk.c_lflag != ECHO) fail("locked termios lost");
    int excl = 0;
    if (ioctl(slave, TIOCGEXCL, &excl) || !excl) fail("exclusive mode lost");
    struct stat st;
    if (fstat(m, &st) || (st.st_mode & 0777) != 0640 || st.st_size != 8192) fail("memfd mode or size lost");
    if (fcntl(m, F_GET_SEALS) != (F_SEAL_GROW | F_SEAL_SHRINK)) fail("memfd seals lost");
    if (syscall(SYS_ioprio_get, 1, 0) != IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 6)) fail("I/O priority lost");
    printf("PASS\n");
    return 0;
}
