/*
 * zombielead — a child left in the session of a sibling that made it and exited unreaped (zdtm's
 * session03 shape: a session led by a zombie).
 *
 * The program forks L; L makes its own session, forks M with CLONE_PARENT (M is the program's
 * child, in L's session and group) and exits with status 7; the program never reaps L. Prints
 * "ready". On SIGUSR2 checks that M is its child, in session and group L, and that L is its zombie
 * child with status 7 (waitid WNOWAIT), then ends M and reaps both: "PASS" or "FAIL: <reason>".
 * M exits by itself once its parent is gone; everything ends after 300 s.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t check;

static void on_usr2(int sig) { (void)sig; check = 1; }

/* Whether pid is a child of this process (waitid on a pid that is not one says ECHILD). */
static int isChild(pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    return waitid(P_PID, pid, &si, WEXITED | WNOWAIT | WNOHANG) == 0;
}

int main(void)
{
    signal(SIGUSR2, on_usr2);
    int pipefd[2];
    if (pipe(pipefd)) { perror("pipe"); return 1; }
    pid_t me = getpid();
    pid_t leader = fork();
    if (leader < 0) { perror("fork"); return 1; }
    if (leader == 0) {
        if (setsid() < 0) { perror("setsid"); _exit(1); }
        pid_t m = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
        if (m < 0) { perror("clone"); _exit(1); }
        if (m == 0) {
            close(pipefd[0]);
            for (int i = 0; i < 3000 && getppid() == me; i++)
                usleep(100000);
            _exit(0);
        }
        if (write(pipefd[1], &m, sizeof m) != sizeof m) _exit(1);
        _exit(7);
    }
    pid_t m;
    close(pipefd[1]);
    if (read(pipefd[0], &m, sizeof m) != sizeof m) { printf("FAIL: no member\n"); return 1; }
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, leader, &si, WEXITED | WNOWAIT)) { perror("waitid"); return 1; }
    printf("ready\n");
    fflush(stdout);
    for (int i = 0; i < 3000 && !check; i++)
        usleep(100000);
    char verdict[200] = "PASS";
    if (!isChild(m))
        snprintf(verdict, sizeof verdict, "FAIL: member %d is no child of %d", m, me);
    else if (getsid(m) != leader)
        snprintf(verdict, sizeof verdict, "FAIL: member %d is in session %d, not %d", m, getsid(m), leader);
    else if (getpgid(m) != leader)
        snprintf(verdict, sizeof verdict, "FAIL: member %d is in group %d, not %d", m, getpgid(m), leader);
    else {
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, leader, &si, WEXITED | WNOWAIT | WNOHANG) || si.si_pid != leader)
            snprintf(verdict, sizeof verdict, "FAIL: leader %d is no zombie child", leader);
        else if (si.si_code != CLD_EXITED || si.si_status != 7)
            snprintf(verdict, sizeof verdict, "FAIL: leader %d ended with code %d status %d", leader, si.si_code,
                     si.si_status);
    }
    kill(m, SIGKILL);
    waitpid(m, NULL, 0);
    waitpid(leader, NULL, 0);
    printf("%s\n", verdict);
    fflush(stdout);
    return strcmp(verdict, "PASS") == 0 ? 0 : 1;
}
