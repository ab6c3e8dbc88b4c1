/*
 * A deleted file held open: DIR/ghost-open is written (300 bytes), opened a second time
 * O_WRONLY|O_APPEND, its read fd left at position 100, and unlinked; then DIR/replaced is
 * opened and replaced by another file at the same path (rename over it). On SIGUSR2 checks: the
 * read fd still names "DIR/ghost-open (deleted)", is at 100 and reads the same bytes; an append
 * through the other fd shows through the read fd (one file); the replaced file's fd still reads
 * the old contents while the path holds the new file. Two more made as Python's tempfile makes
 * them, with O_NOFOLLOW (which their flags keep; the restore failed on it with ELOOP, the tree
 * killed: gunicorn's worker heartbeat files): DIR/temp (mkstemp, then unlinked) and an O_TMPFILE
 * file in DIR (TemporaryFile); both still read and keep O_NOFOLLOW. DIR/linked is linked as
 * DIR/linked.name, then unlinked (zdtm's unlink_fstat03): its fd is still that file, what it writes
 * shows under the other name. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 2) fail("usage: ghostfd DIR");
    signal(SIGUSR2, on_usr2);
    char path[4096], old[4096], fresh[4096];
    snprintf(path, sizeof path, "%s/ghost-open", argv[1]);
    snprintf(old, sizeof old, "%s/replaced", argv[1]);
    snprintf(fresh, sizeof fresh, "%s/replaced.new", argv[1]);
    char data[300];
    for (int i = 0; i < 300; i++) data[i] = (char)('a' + i % 26);
    int rd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (rd < 0 || write(rd, data, 300) != 300) fail("create");
    int app = open(path, O_WRONLY | O_APPEND);
    if (app < 0) fail("open O_APPEND");
    if (lseek(rd, 100, SEEK_SET) != 100) fail("lseek");
    if (unlink(path)) fail("unlink");
    int ro = open(old, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (ro < 0 || write(ro, "old contents", 12) != 12) fail("create replaced");
    int nf = open(fresh, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (nf < 0 || write(nf, "new file", 8) != 8) fail("create new");
    close(nf);
    if (rename(fresh, old)) fail("rename");
    char temp[4200];
    snprintf(temp, sizeof temp, "%s/temp", argv[1]);
    int mk = open(temp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (mk < 0 || write(mk, "mkstemp", 7) != 7 || unlink(temp)) fail("mkstemp-like file");
    int tf = open(argv[1], O_RDWR | O_TMPFILE | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (tf < 0 || write(tf, "tmpfile", 7) != 7) fail("O_TMPFILE file");
    char lk[4000], lkname[4100];
    snprintf(lk, sizeof lk, "%s/linked", argv[1]);
    snprintf(lkname, sizeof lkname, "%s/linked.name", argv[1]);
    int lf = open(lk, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (lf < 0 || write(lf, "one", 3) != 3 || link(lk, lkname) || unlink(lk)) fail("linked file");
    printf("ready\n");
    while (!check) pause();

    char link[64], target[4200], want[4200];
    snprintf(link, sizeof link, "/proc/self/fd/%d", rd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 0) fail("readlink");
    target[n] = 0;
    snprintf(want, sizeof want, "%s (deleted)", path);
    if (strcmp(target, want)) { printf("FAIL: the fd names %s\n", target); return 1; }
    if (lseek(rd, 0, SEEK_CUR) != 100) fail("the read fd lost its position");
    char back[300];
    if (pread(rd, back, 300, 0) != 300 || memcmp(back, data, 300)) fail("the deleted file lost its contents");
    if (write(app, "XYZ", 3) != 3) fail("append");
    char tail[3];
    if (pread(rd, tail, 3, 300) != 3 || memcmp(tail, "XYZ", 3)) fail("the two fds are no longer one file");
    if (!(fcntl(app, F_GETFL) & O_APPEND)) fail("O_APPEND lost");
    char r[16] = {0};
    if (pread(ro, r, 12, 0) != 12 || memcmp(r, "old contents", 12)) fail("the replaced file's fd reads other bytes");
    int now = open(old, O_RDONLY);
    char nb[16] = {0};
    if (now < 0 || read(now, nb, 8) != 8 || memcmp(nb, "new file", 8)) fail("the path lost the new file");
    char t1[8] = {0}, t2[8] = {0};
    if (pread(mk, t1, 7, 0) != 7 || strcmp(t1, "mkstemp") || pread(tf, t2, 7, 0) != 7 || strcmp(t2, "tmpfile"))
        fail("a tempfile-like file reads other bytes");
    if (!(fcntl(mk, F_GETFL) & O_NOFOLLOW) || !(fcntl(tf, F_GETFL) & O_NOFOLLOW)) fail("O_NOFOLLOW lost");
    if (pwrite(lf, "two", 3, 3) != 3) fail("write the linked file");
    int byname = open(lkname, O_RDONLY);
    char lb[8] = {0};
    if (byname < 0 || read(byname, lb, 6) != 6 || strcmp(lb, "onetwo")) fail("the fd is no longer the file linked under the other name");
    snprintf(link, sizeof link, "/proc/self/fd/%d", lf);
    n = readlink(link, target, sizeof target - 1);
    if (n < 0) fail("readlink linked");
    target[n] = 0;
    snprintf(want, sizeof want, "%s (deleted)", lk);
    if (strcmp(target, want)) { printf("FAIL: the linked file's fd names %s\n", target); return 1; }
    printf("PASS\n");
    return 0;
}
