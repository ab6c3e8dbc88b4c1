/*
 * A parent with two zombie children, dumped and restored as zombies.
 *
 * Child A makes its own process group and exits with status 3; child B stays in the parent's
 * group and is killed with SIGTERM. The parent counts SIGCHLD in a handler and does not reap
 * them: it waits (waitid WNOWAIT, which leaves them zombies) until both have died, then prints
 * "ready A B" and sleeps.
 *
 * On SIGUSR2 it checks that both are still zombies of its own (/proc/<pid>/stat: state Z, parent,
 * A's group is A, B's is the parent's), reaps A (exited, status 3) and B (killed by SIGTERM, no
 * core) with waitpid, that no other child is left (ECHILD), and that the restore did not deliver
 * extra SIGCHLD (still exactly 2). Prints "PASS sigchld=2" (exit 0) or "FAIL: <reason>" (exit 1).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t chld, check;
static void on_chld(int s) { (void)s; chld++; }
static void on_usr2(int s) { (void)s; check = 1; }

static int fail(const char *what) {
    printf("FAIL: %s\n", what);
    return 1;
}

/* state, ppid and pgrp from /proc/<pid>/stat (the name may hold spaces: parse after the last ')') */
static int stat_of(pid_t pid, char *state, int *ppid, int *pgrp) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p || sscanf(p + 2, "%c %d %d", state, ppid, pgrp) != 3) return -1;
    return 0;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL); /* whatever the starter blocked */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_chld;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    sa.sa_handler = on_usr2;
    sa.sa_flags = 0;
    sigaction(SIGUSR2, &sa, NULL);

    /* one child at a time: two SIGCHLD pending at once would coalesce into one */
    siginfo_t si;
    pid_t a = fork();
    if (a == 0) {
        setpgid(0, 0);
        _exit(3);
    }
    while (waitid(P_PID, a, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR) {}
    while (chld < 1) usleep(1000);
    pid_t b = fork();
    if (b == 0) {
        for (;;) pause();
    }
    kill(b, SIGTERM);
    while (waitid(P_PID, b, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR) {}
    while (chld < 2) usleep(1000);
    printf("ready %d %d\n", a, b);

    while (!check) pause();

    char st; int ppid, pgrp;
    if (stat_of(a, &st, &ppid, &pgrp) || st != 'Z' || ppid != getpid() || pgrp != a)
        return fail("child A is not a zombie of ours leading its own group");
    if (stat_of(b, &st, &ppid, &pgrp) || st != 'Z' || ppid != getpid() || pgrp != getpgrp())
        return fail("child B is not a zombie of ours in our group");
    if (chld != 2) {
        printf("FAIL: %d SIGCHLD received, expected 2\n", (int)chld);
        return 1;
    }
    int status;
    if (waitpid(a, &status, WNOHANG) != a) return fail("waitpid(A) did not reap it at once");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 3) {
        printf("FAIL: A's status is 0x%x, expected exit 3\n", status);
        return 1;
    }
    if (waitpid(b, &status, WNOHANG) != b) return fail("waitpid(B) did not reap it at once");
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGTERM || WCOREDUMP(status)) {
        printf("FAIL: B's status is 0x%x, expected killed by SIGTERM\n", status);
        return 1;
    }
    if (waitpid(-1, &status, WNOHANG) != -1 || errno != ECHILD) return fail("another child is left");
    printf("PASS sigchld=%d\n", (int)chld);
    return 0;
}
