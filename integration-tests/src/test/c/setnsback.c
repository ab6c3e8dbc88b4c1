/*
 * setnsback BOX [sibling|host] — run as the root of a tree in net, mount, uts and ipc namespaces of its own
 * (`unshare --net --mount --uts --ipc`). The root mounts a tmpfs on BOX with a file "who" reading "root",
 * names its host "cryo-root" and makes a SysV segment. Its child forks a first grandchild, then unshares
 * all four kinds itself (its own tmpfs on BOX reading "child", host "cryo-child") and forks a second
 * grandchild, which enters the root's four namespaces with setns (zdtm's netns_sub); the first one was
 * left in them by its parent's unshare (zdtm's tempfs_subns). Both must be in the root's namespaces
 * again after the restore, the child in its own. With `sibling`, a second child of the root enters the
 * first child's namespaces instead: no ancestor's (cryo refuses it). With `host`, run in the host's namespaces:
 * the child unshares a net namespace only and the grandchild enters the root's, the host's (a restore that took
 * it for one the grandchild made gave it a new one).
 *
 * On SIGUSR2 each checks its namespaces (the same as the root's or not, through /proc/ROOT/ns), its host
 * name, BOX/who and the segment. Prints "PASS" or "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "workload.h"
#include "childcheck.h"
#include "fileholds.h"

static const char *box;
static pid_t root;
static const char *kinds[] = {"net", "mnt", "uts", "ipc"};
static const int flags[] = {CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC};
static int kinds_used = 4; /* `host`: net only, the root being in the host's namespaces */

/* Whether the calling task's namespace of kind k is pid's. */
static int same(pid_t pid, int k)
{
    char path[64];
    struct stat a, b;
    snprintf(path, sizeof path, "/proc/%d/ns/%s", pid, kinds[k]);
    if (stat(path, &a))
        return -1;
    snprintf(path, sizeof path, "/proc/self/ns/%s", kinds[k]);
    if (stat(path, &b))
        return -1;
    return a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

/* 0 when the caller is in the root's namespaces (in == 1) or in none of them (in == 0), shows host name
   NAME, BOX/who WHO and the root's segment (only in the root's ipc namespace); else the step that failed. */
static int verify(int in, const char *name, const char *who)
{
    for (int k = 0; k < kinds_used; k++)
        if (same(root, k) != in)
            return 10 + k;
    if (kinds_used == 1)
        return 0;
    char host[64] = {0};
    if (gethostname(host, sizeof host - 1) || strcmp(host, name))
        return 20;
    char want[16];
    snprintf(want, sizeof want, "%s\n", who);
    if (!reads(box, "who", want))
        return 21;
    if ((shmget(0x5e75, 0, 0) >= 0) != in)
        return 22;
    return 0;
}

static void wait_check(int ready)
{
    if (write(ready, "r", 1) != 1)
        _exit(2);
    while (!check)
        pause();
}

/* Left in the root's namespaces by its parent's unshare. */
static void stayed(int ready)
{
    wait_check(ready);
    _exit(verify(1, "cryo-root", "root"));
}

/* Enters pid's namespaces with setns. */
static int enter(pid_t pid)
{
    for (int k = 0; k < kinds_used; k++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/%s", pid, kinds[k]);
        int fd = open(path, O_RDONLY);
        if (fd < 0 || setns(fd, flags[k]))
            return 30 + k;
        close(fd);
    }
    return 0;
}

static void entered(int ready)
{
    int r = enter(root);
    if (r)
        _exit(r);
    wait_check(ready);
    _exit(verify(1, "cryo-root", "root"));
}

static pid_t first;

static void enteredSibling(int ready)
{
    int r = enter(first);
    if (r)
        _exit(r);
    wait_check(ready);
    _exit(verify(0, "cryo-child", "child"));
}

/* The child: its own namespaces, with a grandchild on each side of its unshare. */
static void child(int ready)
{
    signal(SIGUSR2, on_usr2);
    pid_t before = fork_ready(stayed);
    if (kinds_used == 1) {
        if (unshare(CLONE_NEWNET))
            _exit(3);
    } else if (unshare(CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC)
            || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
        _exit(3);
    }
    if (kinds_used > 1 && (tmpfs_on(box, "cryo-child") || writes(box, "who", "child\n")
            || sethostname("cryo-child", strlen("cryo-child"))))
        _exit(4);
    pid_t after = fork_ready(entered);
    wait_check(ready);
    int own = verify(0, "cryo-child", "child");
    kill(before, SIGUSR2);
    kill(after, SIGUSR2);
    int s1, s2;
    if (waitpid(before, &s1, 0) != before || waitpid(after, &s2, 0) != after)
        _exit(5);
    if (own)
        _exit(own);
    if (!WIFEXITED(s1) || WEXITSTATUS(s1))
        _exit(100 + WEXITSTATUS(s1)); /* the grandchild left behind */
    if (!WIFEXITED(s2) || WEXITSTATUS(s2))
        _exit(150 + WEXITSTATUS(s2)); /* the grandchild that entered */
    _exit(0);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2)
        fail("usage: setnsback BOX [sibling|host]");
    box = argv[1];
    root = getpid();
    if (argc > 2 && !strcmp(argv[2], "host")) {
        kinds_used = 1;
        first = fork_ready(child);
        printf("ready\n");
        while (!check)
            pause();
        return child_verdict(first);
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) || tmpfs_on(box, "cryo-root")
            || writes(box, "who", "root\n"))
        fail("set up the root's tmpfs");
    if (sethostname("cryo-root", strlen("cryo-root")) || shmget(0x5e75, 4096, IPC_CREAT | 0600) < 0)
        fail("set up the root's host name and segment");
    first = fork_ready(child);
    pid_t second = argc > 2 && !strcmp(argv[2], "sibling") ? fork_ready(enteredSibling) : 0;
    printf("ready\n");
    while (!check)
        pause();
    if (verify(1, "cryo-root", "root"))
        fail("the root is not in its own namespaces");
    if (second) {
        kill(second, SIGUSR2);
        int s;
        if (waitpid(second, &s, 0) != second || !WIFEXITED(s) || WEXITSTATUS(s)) {
            printf("FAIL: the sibling failed (status 0x%x)\n", s);
            return 1;
        }
    }
    return child_verdict(first);
}
