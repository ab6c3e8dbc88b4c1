/*
 * Children exiting all the time, reaped late: at any moment some are zombies, some just forked,
 * some being reaped, so a dump always meets children that exit or are reaped while the tree is
 * being stopped.
 *
 * The parent forks a child every 2 ms; child n exits at once with status n % 200 (every 7th is
 * killed by SIGTERM instead, before it can exit: it pauses). Every 40 ms the parent reaps what has
 * died (waitpid WNOHANG) and checks each status against the child's number, kept in a table.
 * Prints "ready" after the first reap.
 *
 * On SIGUSR2 it stops forking, reaps every remaining child (waiting for each, SIGTERM victims
 * included) and checks that every child it forked was reaped exactly once with its own status.
 * Prints "PASS reaped=<n>" (exit 0) or "FAIL: <reason>" (exit 1).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX 100000
static pid_t pids[MAX];
static int reaped[MAX];
static int n, total, bad;
static volatile sig_atomic_t check;
static void on_usr2(int s) { (void)s; check = 1; }

static int index_of(pid_t pid) {
    for (int i = n - 1; i >= 0; i--)
        if (pids[i] == pid) return i;
    return -1;
}

static void account(pid_t pid, int status) {
    int i = index_of(pid);
    if (i < 0) { printf("FAIL: reaped unknown pid %d\n", pid); bad = 1; return; }
    if (reaped[i]++) { printf("FAIL: child %d (pid %d) reaped twice\n", i, pid); bad = 1; return; }
    total++;
    int ok = i % 7 == 3 ? WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM
                        : WIFEXITED(status) && WEXITSTATUS(status) == i % 200;
    if (!ok) { printf("FAIL: child %d (pid %d) status 0x%x\n", i, pid, status); bad = 1; }
}

static void reap(int flags) {
    int status;
    pid_t p;
    while ((p = waitpid(-1, &status, flags)) > 0) account(p, status);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);
    int readied = 0;
    while (!check && n < MAX) {
        for (int k = 0; k < 20 && !check; k++) {
            pid_t c = fork();
            if (c == 0) {
                if (n % 7 == 3) for (;;) pause();
                _exit(n % 200);
            }
            pids[n] = c;
            if (n % 7 == 3) kill(c, SIGTERM);
            n++;
            struct timespec ts = {0, 2 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        reap(WNOHANG);
        if (!readied) { printf("ready\n"); readied = 1; }
    }
    reap(0);
    if (errno != ECHILD) { printf("FAIL: waitpid: %s\n", strerror(errno)); return 1; }
    for (int i = 0; i < n; i++)
        if (!reaped[i]) { printf("FAIL: child %d (pid %d) never reaped\n", i, pids[i]); return 1; }
    if (bad) return 1;
    printf("PASS reaped=%d\n", total);
    return 0;
}
