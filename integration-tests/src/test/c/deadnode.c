/*
 * Device nodes held open after they were unlinked, as a sandbox does with a private /dev/null it
 * made with mknod: a null device (1:3) of mode 0640 owned by 123:456 open for appending, and a
 * zero device (1:5) of mode 0604 open for reading, both made in DIR under umask 077 and removed
 * at once; a regular file takes the zero device's name since. On SIGUSR2 checks each fd: a
 * character device with the same number, mode and owner, no links, the name it had (its fd link),
 * the same open flags, and that it works; and that DIR holds only that regular file, the same inode
 * with its bytes (a restore that made the nodes again must leave nothing there). zdtm's deleted_dev was refused at dump time.
 * With "mntns" it does so in a mount namespace of its own on a tmpfs it mounts over DIR (zdtm's deleted_dev in
 * its ns flavor, refused as held "by a task in a mount namespace of its own"): cryo's view of DIR is not the task's.
 * Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "workload.h"

static char dir[4096];

struct node { const char *name; unsigned maj, min; mode_t perm; uid_t uid; gid_t gid; int flags; int fd; };

static void expect(const struct node *n) {
    struct stat st;
    char why[256];
    if (fstat(n->fd, &st)) fail("fstat");
    if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != n->maj || minor(st.st_rdev) != n->min) {
        snprintf(why, sizeof why, "%s: not device %u:%u (mode 0%o, %u:%u)", n->name, n->maj, n->min,
                 st.st_mode, major(st.st_rdev), minor(st.st_rdev));
        fail(why);
    }
    if ((st.st_mode & 07777) != n->perm || st.st_uid != n->uid || st.st_gid != n->gid) {
        snprintf(why, sizeof why, "%s: mode 0%o owner %u:%u, expected 0%o %u:%u", n->name, st.st_mode & 07777,
                 st.st_uid, st.st_gid, n->perm, n->uid, n->gid);
        fail(why);
    }
    char link[64], want[4200], got[4200];
    snprintf(link, sizeof link, "/proc/self/fd/%d", n->fd);
    snprintf(want, sizeof want, "%s/%s (deleted)", dir, n->name);
    ssize_t len = readlink(link, got, sizeof got - 1);
    got[len < 0 ? 0 : len] = 0;
    if (strcmp(got, want)) {
        snprintf(why, sizeof why, "%s: fd link %.100s, expected %.100s", n->name, got, want);
        fail(why);
    }
    if (st.st_nlink != 0) {
        snprintf(why, sizeof why, "%s: %lu links, expected none", n->name, (unsigned long)st.st_nlink);
        fail(why);
    }
    int fl = fcntl(n->fd, F_GETFL) & (O_ACCMODE | O_APPEND);
    if (fl != n->flags) {
        snprintf(why, sizeof why, "%s: flags 0%o, expected 0%o", n->name, fl, n->flags);
        fail(why);
    }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) fail("usage: deadnode DIR [mntns]");
    signal(SIGUSR2, on_usr2);
    struct node nodes[] = {
        { "null", 1, 3, 0640, 123, 456, O_WRONLY | O_APPEND, -1 },
        { "zero", 1, 5, 0604, 0, 0, O_RDONLY, -1 },
    };
    if (!realpath(argv[1], dir)) fail("realpath");
    if (argc > 2 && !strcmp(argv[2], "mntns") && (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL)
            || mount("deadnode", dir, "tmpfs", 0, "mode=0755"))) fail("a tmpfs over DIR in a mount namespace of its own");
    umask(077);
    for (int i = 0; i < 2; i++) {
        struct node *n = &nodes[i];
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], n->name);
        if (mknod(path, S_IFCHR | 0600, makedev(n->maj, n->min))) fail("mknod");
        if (chown(path, n->uid, n->gid) || chmod(path, n->perm)) fail("chown/chmod");
        n->fd = open(path, n->flags);
        if (n->fd < 0) fail("open");
        if (unlink(path)) fail("unlink");
    }
    char taker[4200];
    snprintf(taker, sizeof taker, "%s/zero", dir);
    int t = open(taker, O_CREAT | O_EXCL | O_WRONLY, 0600);
    struct stat tst;
    if (t < 0 || write(t, "keep", 4) != 4 || fstat(t, &tst) || close(t)) fail("the file taking the name");
    printf("ready\n");
    while (!check) pause();

    for (int i = 0; i < 2; i++) expect(&nodes[i]);
    if (write(nodes[0].fd, "x", 1) != 1) fail("write to the null device");
    char buf[16];
    memset(buf, 'x', sizeof buf);
    if (read(nodes[1].fd, buf, sizeof buf) != sizeof buf) fail("read from the zero device");
    for (size_t i = 0; i < sizeof buf; i++) if (buf[i]) fail("the zero device gave a non-zero byte");
    DIR *d = opendir(argv[1]);
    if (!d) fail("opendir");
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "zero")) {
            printf("FAIL: %s left in the directory\n", e->d_name);
            return 1;
        }
    }
    struct stat now;
    char kept[8] = {0};
    t = open(taker, O_RDONLY);
    if (t < 0 || fstat(t, &now) || read(t, kept, sizeof kept) != 4 || memcmp(kept, "keep", 4)) fail("the file that took the name lost its bytes");
    if (now.st_ino != tst.st_ino || !S_ISREG(now.st_mode)) fail("the file that took the name is another file now");
    printf("PASS\n");
    return 0;
}
