/*
 * selfcover BOX — run in a mount namespace of its own (`unshare -m`), the shape of zdtm's
 * overmount_with_shared_parent: BOX bound on itself and shared, a/b bound over a (the bind covers its own
 * source), then d bound on a/c — which propagates, through BOX's peer group, a copy onto a/b/c under the bind on
 * a, where no path reaches it. A dump refused the bind on a ("a bind mount of BOX/a/b, which the namespace no
 * longer reaches").
 *
 * On SIGUSR2 checks BOX/a shows b's file and a/c d's, mountinfo the hidden copy on a/b/c, takes them off (the
 * copy goes with its peer) and finds a's own file. Prints "PASS" or "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include "workload.h"
#include "fileholds.h"

static char box[4096], a[4200], ab[4200], abc[4200], ac[4200], d[4200];


/* Whether mountinfo shows a mount on PATH (no space nor escape in it: a test's temporary directory). */
static int mounted(const char *path)
{
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[8192], point[4200];
    int found = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "%*s %*s %*s %*s %4199s", point) == 1 && !strcmp(point, path))
            found = 1;
    if (f)
        fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2)
        fail("usage: selfcover BOX");
    snprintf(box, sizeof box, "%s", argv[1]);
    snprintf(a, sizeof a, "%s/a", box);
    snprintf(ab, sizeof ab, "%s/a/b", box);
    snprintf(abc, sizeof abc, "%s/a/b/c", box);
    snprintf(ac, sizeof ac, "%s/a/c", box);
    snprintf(d, sizeof d, "%s/d", box);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) || mount(box, box, NULL, MS_BIND, NULL)
            || mount(NULL, box, NULL, MS_SHARED, NULL))
        fail("bind BOX on itself, shared");
    if (mkdir(a, 0755) || mkdir(ab, 0755) || mkdir(abc, 0755) || mkdir(d, 0755))
        fail("mkdir");
    if (names(a, "top") || names(ab, "inb") || names(d, "ind"))
        fail("write a file");
    if (mount(ab, a, NULL, MS_BIND, NULL))
        fail("bind a/b on a");
    if (mount(d, ac, NULL, MS_BIND, NULL))
        fail("bind d on a/c");
    printf("ready\n");
    while (!check)
        pause();
    shows(a, "inb", "the bind on a");
    shows(ac, "ind", "the bind on a/c");
    if (!mounted(abc))
        fail("no copy of the bind on a/c under the bind on a");
    takes_off(ac, "the bind on a/c"); /* its copy goes with it: a peer's umount propagates */
    takes_off(a, "the bind on a");
    shows(a, "top", "a itself");
    if (mounted(abc))
        fail("the copy under the bind on a stayed");
    takes_off(box, "BOX");
    printf("PASS\n");
    return 0;
}
