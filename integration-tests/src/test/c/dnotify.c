/*
 * Directory notifications (dnotify, fcntl F_NOTIFY). Usage: dnotify DIR. Three directories under
 * DIR: "multi" watched with DN_CREATE|DN_MULTISHOT and F_SETSIG SIGRTMIN+2 through a duplicated fd
 * (the signal names the fd F_NOTIFY was given); "once" watched with DN_DELETE, one shot, not yet
 * fired; "spent" watched with one shot DN_CREATE, fired before the dump. On SIGUSR2: a file made in
 * "multi" is announced again, one removed in "once" is announced once, one made in "spent" is not;
 * F_GETSIG and F_GETOWN are as set. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

static volatile sig_atomic_t got[64];

static void on_notify(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    if (si->si_fd >= 0 && si->si_fd < 64) got[si->si_fd] += sig == SIGRTMIN + 2 ? 1 : 100;
}

static int watched(const char *root, const char *name, char *path, size_t len) {
    snprintf(path, len, "%s/%s", root, name);
    if (mkdir(path, 0755) && errno != EEXIST) fail("mkdir");
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd < 0) fail("open dir");
    return fd;
}

static void touch(const char *dir, const char *name) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    if (fd < 0) fail("create");
    close(fd);
}

static void await(int fd, int want, const char *why) {
    for (int i = 0; i < 2000 && got[fd] < want; i++) usleep(1000);
    if (got[fd] != want) {
        printf("FAIL: %s: %d signals for fd %d, wanted %d\n", why, got[fd], fd, want);
        exit(1);
    }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2) fail("usage: dnotify DIR");
    struct sigaction sa = {.sa_sigaction = on_notify, .sa_flags = SA_SIGINFO | SA_RESTART};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGRTMIN + 2, &sa, NULL) || sigaction(SIGIO, &sa, NULL)) fail("sigaction");
    char multi[4200], once[4200], spent[4200];
    int opened = watched(argv[1], "multi", multi, sizeof multi);
    int m = dup(opened); /* the registration is made through this one: signals name it */
    if (fcntl(m, F_SETSIG, SIGRTMIN + 2)) fail("F_SETSIG");
    if (fcntl(m, F_NOTIFY, DN_CREATE | DN_MULTISHOT)) fail("F_NOTIFY multi");
    int o = watched(argv[1], "once", once, sizeof once);
    if (fcntl(o, F_SETSIG, SIGRTMIN + 2)) fail("F_SETSIG once");
    touch(once, "victim");
    if (fcntl(o, F_NOTIFY, DN_DELETE)) fail("F_NOTIFY once");
    int s = watched(argv[1], "spent", spent, sizeof spent);
    if (fcntl(s, F_SETSIG, SIGRTMIN + 2)) fail("F_SETSIG spent");
    if (fcntl(s, F_NOTIFY, DN_CREATE)) fail("F_NOTIFY spent");
    touch(multi, "before");
    touch(spent, "before");
    await(m, 1, "before the dump, multi");
    await(s, 1, "before the dump, spent");
    if (got[o] != 0 || got[opened] != 0) fail("a signal before anything was removed");
    printf("ready\n");
    while (!check) pause();

    if (fcntl(m, F_GETSIG) != SIGRTMIN + 2) fail("F_GETSIG");
    if (fcntl(m, F_GETOWN) != getpid()) fail("F_GETOWN");
    touch(multi, "after");
    await(m, 2, "a file made after the restore, multi");
    touch(multi, "again");
    await(m, 3, "a second file made after the restore, multi");
    char victim[4300];
    snprintf(victim, sizeof victim, "%s/victim", once);
    if (unlink(victim)) fail("unlink");
    await(o, 1, "a file removed after the restore, once");
    touch(once, "more");
    touch(spent, "after");
    usleep(200000);
    if (got[o] != 1 || got[s] != 1 || got[opened] != 0) fail("a signal of a spent or other registration");
    printf("PASS\n");
    return 0;
}
