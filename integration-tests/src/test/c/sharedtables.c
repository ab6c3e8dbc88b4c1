/*
 * Processes that share their parent's tables, as zdtm's fdt_shared does. Arguments: DIR and a mode.
 *   files     a child C made with clone(CLONE_FILES), a grandchild G made by C with CLONE_FILES
 *             (one fd table for the three) and a child D made without (its own copy). An fd is
 *             opened at 100 by the parent after the clones: C and G see it, D does not.
 *   fs        a child C made with clone(CLONE_FS) (one cwd, root and umask) and a child D made
 *             without; C enters DIR/a before "ready", which moves the parent too.
 *   siblings  two children made with CLONE_FILES, then the parent unshares its table: the children
 *             share one the parent no longer holds (cryo refuses it). Prints "ready" and sleeps.
 * Prints "ready <C pid> <D pid>" and waits for SIGUSR2, then checks with kcmp that the sharing is
 * as it was and that it still works: what C does (open and close an fd; chdir and umask) is seen
 * by the parent at once, and D keeps its own. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KCMP_FILES 2
#define KCMP_FS 3

static volatile sig_atomic_t check;
static void on_usr2(int sig) { (void)sig; check = 1; }

static char stack_c[1 << 16] __attribute__((aligned(16)));
static char stack_g[1 << 16] __attribute__((aligned(16)));
static char stack_d[1 << 16] __attribute__((aligned(16)));
static int cmd[2], ack[2];
static char dir[PATH_MAX];

static void fail(const char *why) {
    printf("FAIL: %s (errno %d)\n", why, errno);
    exit(1);
}

static int kcmp(pid_t a, pid_t b, int type) {
    return (int)syscall(SYS_kcmp, a, b, type, 0, 0);
}

static int idle(void *arg) {
    (void)arg;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (;;) pause();
    return 0;
}

/* C: serves the parent's commands, one byte each, and acknowledges each with one byte. */
static int serve(void *arg) {
    const char *mode = arg;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGUSR2, SIG_IGN);
    pid_t g = 0;
    if (!strcmp(mode, "files") && (g = clone(idle, stack_g + sizeof stack_g, CLONE_FILES | SIGCHLD, NULL)) < 0) return 1;
    char path[PATH_MAX + 8];
    for (;;) {
        char c;
        if (read(cmd[0], &c, 1) != 1) return 1;
        int ok = 1;
        switch (c) {
        case 'o': { /* an fd at 200, in the table we share */
            int fd = open("/dev/null", O_RDONLY);
            ok = fd >= 0 && dup2(fd, 200) == 200 && close(fd) == 0;
            break;
        }
        case 'c': ok = close(200) == 0; break;
        case 'a': snprintf(path, sizeof path, "%s/a", dir); ok = chdir(path) == 0; break;
        case 'b': snprintf(path, sizeof path, "%s/b", dir); ok = chdir(path) == 0; break;
        case 'u': umask(027); break;
        case 'g': /* reports its child G's pid */
            if (write(ack[1], &g, sizeof g) != sizeof g) return 1;
            continue;
        }
        char r = ok ? 'y' : 'n';
        if (write(ack[1], &r, 1) != 1) return 1;
    }
}

static void ask(char c, const char *what) {
    char r;
    if (write(cmd[1], &c, 1) != 1 || read(ack[0], &r, 1) != 1 || r != 'y') fail(what);
}

static int open_at(int fd) {
    return fcntl(fd, F_GETFD) >= 0;
}

static void cwd_is(const char *sub, const char *what) {
    char want[PATH_MAX + 8], got[PATH_MAX];
    snprintf(want, sizeof want, "%s/%s", dir, sub);
    if (!getcwd(got, sizeof got) || strcmp(got, want)) fail(what);
}

int main(int argc, char **argv) {
    if (argc < 3) fail("usage: sharedtables DIR files|fs|siblings");
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!realpath(argv[1], dir)) fail("realpath");
    const char *mode = argv[2];
    signal(SIGUSR2, on_usr2);
    if (!strcmp(mode, "siblings")) {
        if (clone(idle, stack_c + sizeof stack_c, CLONE_FILES | SIGCHLD, NULL) < 0
                || clone(idle, stack_d + sizeof stack_d, CLONE_FILES | SIGCHLD, NULL) < 0) fail("clone");
        if (unshare(CLONE_FILES) < 0) fail("unshare");
        printf("ready\n");
        for (;;) pause();
    }
    int files = !strcmp(mode, "files");
    char sub[PATH_MAX + 8];
    snprintf(sub, sizeof sub, "%s/a", dir);
    mkdir(sub, 0755);
    snprintf(sub, sizeof sub, "%s/b", dir);
    mkdir(sub, 0755);
    if (pipe(cmd) < 0 || pipe(ack) < 0) fail("pipe");
    pid_t c = clone(serve, stack_c + sizeof stack_c, (files ? CLONE_FILES : CLONE_FS) | SIGCHLD, (void *)mode);
    pid_t d = clone(idle, stack_d + sizeof stack_d, SIGCHLD, NULL);
    if (c < 0 || d < 0) fail("clone");
    pid_t g = 0;
    if (files) {
        char q = 'g';
        if (write(cmd[1], &q, 1) != 1 || read(ack[0], &g, sizeof g) != sizeof g || g <= 0) fail("G's pid");
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0 || dup2(fd, 100) != 100 || close(fd) < 0) fail("fd 100");
    } else {
        ask('a', "C cannot enter DIR/a");
        cwd_is("a", "C's chdir did not move the parent");
    }
    printf("ready %d %d\n", c, d);
    while (!check) pause();
    pid_t me = getpid();
    char path[64];
    if (files) {
        if (kcmp(me, c, KCMP_FILES) != 0) fail("C has a fd table of its own");
        if (kcmp(me, g, KCMP_FILES) != 0) fail("G has a fd table of its own");
        if (kcmp(me, d, KCMP_FILES) == 0) fail("D shares the parent's fd table");
        if (!open_at(100)) fail("fd 100 is gone");
        snprintf(path, sizeof path, "/proc/%d/fd/100", d);
        if (access(path, F_OK) == 0) fail("D has fd 100");
        if (open_at(200)) fail("fd 200 is open before C opens it");
        ask('o', "C cannot open fd 200");
        if (!open_at(200)) fail("the parent does not see the fd C opened");
        ask('c', "C cannot close fd 200");
        if (open_at(200)) fail("the parent still sees the fd C closed");
        if (close(100) < 0) fail("close 100");
        snprintf(path, sizeof path, "/proc/%d/fd/100", c);
        if (access(path, F_OK) == 0) fail("C still sees fd 100 the parent closed");
    } else {
        if (kcmp(me, c, KCMP_FS) != 0) fail("C has a cwd of its own");
        if (kcmp(me, d, KCMP_FS) == 0) fail("D shares the parent's cwd");
        cwd_is("a", "the parent is no longer in DIR/a");
        ask('b', "C cannot enter DIR/b");
        cwd_is("b", "C's chdir after the restore did not move the parent");
        ask('u', "umask");
        mode_t old = umask(022);
        if (old != 027) fail("C's umask did not change the parent's");
    }
    printf("PASS\n");
    return 0;
}
