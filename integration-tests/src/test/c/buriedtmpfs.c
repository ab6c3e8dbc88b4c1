/*
 * buriedtmpfs BOX — run in a mount namespace of its own (`unshare -m`), the stack of zdtm's tempfs_overmounted,
 * each tmpfs with a file of its own: on BOX/a/b a tmpfs "one", a second "two" over it with a third "three" on its
 * directory c; then on BOX/a a tmpfs "four", a fifth "five" over it with a sixth "six" on its directory b. The
 * first three are reached by no path: the mounts on BOX/a cover the path to them, not only their own point.
 * A dump refused them ("covered by 1 later mounts on the same point, and a copy of it shows another file system").
 *
 * On SIGUSR2 takes the mounts off one by one, checking at each step the file each shows. Prints "PASS" or
 * "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include "workload.h"
#include "fileholds.h"

static char a[4096], ab[4096], abc[4096];

static void tmpfs(const char *at, const char *name)
{
    if (tmpfs_on(at, name) || names(at, name))
        fail("mount a tmpfs with its file");
}

/* DIR shows the file NAME of its tmpfs (and nothing of the tmpfs above), then that mount is taken off. */
static void off(const char *dir, const char *name, const char *step)
{
    shows(dir, name, step);
    takes_off(dir, step);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2)
        fail("usage: buriedtmpfs BOX");
    snprintf(a, sizeof a, "%s/a", argv[1]);
    snprintf(ab, sizeof ab, "%s/a/b", argv[1]);
    snprintf(abc, sizeof abc, "%s/a/b/c", argv[1]);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) || mkdir(a, 0755) || mkdir(ab, 0755))
        fail("set up BOX");
    tmpfs(ab, "one");
    tmpfs(ab, "two");
    if (mkdir(abc, 0755))
        fail("mkdir c");
    tmpfs(abc, "three");
    tmpfs(a, "four");
    tmpfs(a, "five");
    if (mkdir(ab, 0755))
        fail("mkdir b");
    tmpfs(ab, "six");
    printf("ready\n");
    while (!check)
        pause();
    off(ab, "six", "the top");
    off(a, "five", "under it");
    off(a, "four", "below");
    off(abc, "three", "the tmpfs on c");
    off(ab, "two", "the tmpfs on b");
    off(ab, "one", "the first one");
    printf("PASS\n");
    return 0;
}
