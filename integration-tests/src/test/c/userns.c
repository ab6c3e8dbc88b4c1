/*
 * userns — the init of a container made by `unshare -Ur -m --pid --fork --mount-proc` (a user
 * namespace of its own, root inside, owning its mount and pid namespaces), run from a shell that
 * mounted a tmpfs on DIR (argv[1]). It opens DIR/data, forks a child that waits on a pipe, and
 * notes what it sees: its uid and gids inside, its capabilities, /proc/self/uid_map, gid_map and
 * setgroups, and the user namespace that owns its mount and pid namespaces (NS_GET_USERNS).
 * Prints "ready" and waits.
 *
 * On SIGUSR2 checks all of it again (the maps and setgroups read the same, it is still root with
 * every capability it had, its mount and pid namespaces are still owned by its user namespace,
 * which is not the host's), reads its file on the tmpfs at its offset, wakes the child through the
 * pipe and reaps it (the child checks it is pid 2 with parent 1, and its own ids), and prints
 * "PASS" or "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NS_GET_USERNS 0xb701
#define INIT_USER 0xEFFFFFFDUL

static volatile sig_atomic_t check_requested;

static void on_usr2(int sig) { (void)sig; check_requested = 1; }

static int fail(const char *why)
{
    printf("FAIL: %s\n", why);
    fflush(stdout);
    return 1;
}

static void slurp(const char *path, char *buf, size_t len)
{
    memset(buf, 0, len);
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        if (read(fd, buf, len - 1) < 0)
            buf[0] = 0;
        close(fd);
    }
}

/* the ino of the user namespace that owns namespace kind */
static unsigned long owner(const char *kind)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/self/ns/%s", kind);
    int ns = open(path, O_RDONLY);
    int u = ns < 0 ? -1 : ioctl(ns, NS_GET_USERNS);
    unsigned long r = u >= 0 && fstat(u, &st) == 0 ? (unsigned long)st.st_ino : 0;
    if (u >= 0)
        close(u);
    if (ns >= 0)
        close(ns);
    return r;
}

static unsigned long ino(const char *kind)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/self/ns/%s", kind);
    return stat(path, &st) == 0 ? (unsigned long)st.st_ino : 0;
}

struct seen {
    char uid_map[256], gid_map[256], setgroups[32], caps[128];
    uid_t uid, euid;
    gid_t gid, egid;
    unsigned long user, mnt_owner, pid_owner;
};

static void look(struct seen *s)
{
    char status[4096];
    slurp("/proc/self/uid_map", s->uid_map, sizeof s->uid_map);
    slurp("/proc/self/gid_map", s->gid_map, sizeof s->gid_map);
    slurp("/proc/self/setgroups", s->setgroups, sizeof s->setgroups);
    slurp("/proc/self/status", status, sizeof status);
    char *c = strstr(status, "CapInh:");
    memset(s->caps, 0, sizeof s->caps);
    if (c)
        strncpy(s->caps, c, 5 * 26 < (int)sizeof s->caps ? 5 * 26 : sizeof s->caps - 1);
    s->uid = getuid();
    s->euid = geteuid();
    s->gid = getgid();
    s->egid = getegid();
    s->user = ino("user");
    s->mnt_owner = owner("mnt");
    s->pid_owner = owner("pid");
}

int main(int argc, char **argv)
{
    if (argc < 2 || chdir(argv[1]))
        return fail("usage: userns DIR (a tmpfs)");
    if (getpid() != 1)
        return fail("not started as the init of a pid namespace");
    signal(SIGUSR2, on_usr2);
    struct seen before, after;
    look(&before);
    if (before.user == INIT_USER || before.mnt_owner != before.user || before.pid_owner != before.user)
        return fail("not in a user namespace of its own owning its mount and pid namespaces");
    if (before.uid != 0 || before.euid != 0)
        return fail("not root in its user namespace");
    int fd = open("data", O_RDWR | O_CREAT, 0640);
    if (fd < 0 || write(fd, "inside-a-user-namespace\n", 24) != 24 || lseek(fd, 7, SEEK_SET) != 7)
        return fail("cannot write DIR/data");
    int go[2], back[2];
    if (pipe(go) || pipe(back))
        return fail("pipe");
    pid_t kid = fork();
    if (kid == 0) {
        char b;
        if (read(go[0], &b, 1) != 1)
            _exit(1);
        char line[64];
        int n = snprintf(line, sizeof line, "%d %d %d %d\n", getpid(), getppid(), getuid(), getgid());
        _exit(write(back[1], line, n) == n ? 7 : 1);
    }
    printf("ready\n");
    fflush(stdout);
    while (!check_requested)
        pause();
    look(&after);
    if (strcmp(before.uid_map, after.uid_map) || strcmp(before.gid_map, after.gid_map))
        return fail("the id maps changed");
    if (strcmp(before.setgroups, after.setgroups))
        return fail("setgroups changed");
    if (strcmp(before.caps, after.caps)) {
        printf("FAIL: capabilities changed:\n%s\nnow:\n%s\n", before.caps, after.caps);
        return 1;
    }
    if (after.uid != 0 || after.euid != 0 || after.gid != before.gid || after.egid != before.egid)
        return fail("its ids inside changed");
    if (after.user == INIT_USER || after.user == 0 || after.mnt_owner != after.user || after.pid_owner != after.user)
        return fail("its mount and pid namespaces are not owned by its user namespace any more");
    char rest[32] = {0};
    if (read(fd, rest, sizeof rest - 1) != 17 || strcmp(rest, "a-user-namespace\n")) {
        printf("FAIL: DIR/data reads '%s' at its offset\n", rest);
        return 1;
    }
    if (write(go[1], "x", 1) != 1)
        return fail("cannot wake the child");
    char got[64] = {0}, want[64];
    snprintf(want, sizeof want, "%d 1 0 %d\n", kid, (int)before.gid);
    if (read(back[0], got, sizeof got - 1) <= 0 || strcmp(got, want)) {
        printf("FAIL: the child reported '%s', expected '%s'\n", got, want);
        return 1;
    }
    int status;
    if (waitpid(kid, &status, 0) != kid || !WIFEXITED(status) || WEXITSTATUS(status) != 7)
        return fail("could not reap the child");
    printf("PASS\n");
    fflush(stdout);
    return 0;
}
