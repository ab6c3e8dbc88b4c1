/*
 * mntns BOX — the init of its own pid and mount namespaces, as `unshare -m --pid --fork
 * --mount-proc` starts a container: /proc is its pid namespace's, BOX is a tmpfs of the namespace
 * with BOX/src a read-only bind mount of a host directory (the test's shell mounted both before
 * exec'ing this). It makes its session, works inside BOX: cwd there, writes files (a deep one, a symlink, a hard
 * link), holds one open at position 6, notes its mount table, prints "ready" and waits.
 *
 * With a second argument "host-pids" (under `unshare -m` alone) it skips the pid checks.
 *
 * On SIGUSR2 checks: it is pid 1 and /proc/self says so (its own proc); the mount table is the
 * one it noted (points, file systems, sources, options, kinds of propagation); the files are
 * back with their bytes, modes and links; the open file reads on from position 6 and is the file
 * named data; cwd is BOX; BOX/src still reads the host's file and refuses writes (EROFS). Prints
 * "PASS" or "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "workload.h"

static char table[16384];

/* mountinfo without ids, devices and peer group numbers: what a restore must give back */
static void note_table(char *out, size_t size)
{
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[4096];
    size_t n = 0;
    out[0] = 0;
    if (!f)
        fail("open mountinfo");
    while (fgets(line, sizeof line, f)) {
        char *save = NULL, *tok;
        int i = 0;
        /* a slave copy follows the host's `ip netns` mounts, which other programs add and remove */
        if (strstr(line, " /run/netns/"))
            continue;
        for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save), i++) {
            if (i < 3)
                continue;
            char word[4096];
            snprintf(word, sizeof word, "%s", tok);
            char *colon = strchr(word, ':');
            if (i > 5 && colon && (!strncmp(word, "shared:", 7) || !strncmp(word, "master:", 7)))
                *colon = 0;
            n += snprintf(out + n, size - n, "%s ", word);
            if (n >= size)
                fail("mount table too long");
        }
        n += snprintf(out + n, size - n, "\n");
    }
    fclose(f);
}

static void put(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd))
        fail(path);
    if (chmod(path, mode))
        fail("chmod");
}

static int same(const char *path, const char *want)
{
    char got[256] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, got, sizeof got - 1);
    close(fd);
    return n >= 0 && !strcmp(got, want);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        fail("usage: mntns BOX [host-pids]");
    signal(SIGUSR2, on_usr2);
    if (getsid(0) != getpid() && setsid() < 0) /* a container's init leads its session (runc makes it so) */
        fail("setsid");
    if (chdir(argv[1]) || mkdir("d", 0750) || mkdir("d/e", 0700))
        fail("setup dirs");
    put("data", "hello tmpfs\n", 0640);
    put("d/e/f", "deep\n", 0600);
    if (symlink("data", "link") || link("data", "hard"))
        fail("links");
    int fd = open("data", O_RDONLY);
    char head[6];
    if (fd < 0 || read(fd, head, 6) != 6)
        fail("open data");
    note_table(table, sizeof table);
    printf("ready\n");
    fflush(stdout);
    while (!check)
        pause();

    char now[sizeof table], buf[256] = {0};
    int own_pid_ns = argc < 3 || strcmp(argv[2], "host-pids");
    if (own_pid_ns && getpid() != 1)
        fail("not pid 1");
    ssize_t n = readlink("/proc/self", buf, sizeof buf - 1);
    if (own_pid_ns && (n != 1 || buf[0] != '1')) {
        printf("FAIL: /proc/self is '%s': /proc is not its pid namespace's\n", buf);
        return 1;
    }
    note_table(now, sizeof now);
    if (strcmp(now, table)) {
        printf("FAIL: mount table changed\nbefore:\n%safter:\n%s", table, now);
        return 1;
    }
    if (!same("data", "hello tmpfs\n") || !same("hard", "hello tmpfs\n") || !same("d/e/f", "deep\n"))
        fail("file contents");
    struct stat a, b, c, d;
    if (stat("data", &a) || stat("hard", &b) || fstat(fd, &c) || stat("d/e", &d))
        fail("stat");
    if ((a.st_mode & 07777) != 0640 || (d.st_mode & 07777) != 0700)
        fail("modes");
    if (a.st_ino != b.st_ino || a.st_nlink != 2)
        fail("hard link");
    if (c.st_ino != a.st_ino || c.st_dev != a.st_dev)
        fail("the open fd is not the file named data");
    memset(buf, 0, sizeof buf);
    if (readlink("link", buf, sizeof buf - 1) != 4 || strcmp(buf, "data"))
        fail("symlink");
    memset(buf, 0, sizeof buf);
    if (read(fd, buf, sizeof buf - 1) != 6 || strcmp(buf, "tmpfs\n") != 0)
        fail("read on from position 6");
    if (!getcwd(buf, sizeof buf) || strcmp(buf, argv[1]))
        fail("cwd");
    if (!same("src/file", "from the host\n"))
        fail("bind mount contents");
    int w = open("src/new", O_WRONLY | O_CREAT, 0644);
    if (w >= 0 || errno != EROFS)
        fail("bind mount is not read-only");
    printf("PASS\n");
    return 0;
}
