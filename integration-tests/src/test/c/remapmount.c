/*
 * remapmount BOX — run in a mount namespace of its own (`unshare -m`), the shape of zdtm's mntns_remap: a tmpfs T
 * on BOX, T's 1 bound on itself (private), a tmpfs U on 2; 1/a bound on itself and shared, bound again on U's a
 * (a peer), a tmpfs C on 1/a/c (which propagates a copy onto U's a/c), then U moved onto 1. The first a and C are
 * hidden under U; the copies on U show them. A dump refused it ("its mount tmpfs ... on BOX/1/a shows /1/a of its
 * file system; not supported yet"): no path reached the copies' source any more.
 *
 * On SIGUSR2 checks BOX/1/a shows T's file and 1/a/c C's, that the two mounts on each of 1/a and 1/a/c are one
 * file system and one peer group, then takes U off and finds T's 1 and the hidden a under it, C gone with its copy.
 * Prints "PASS" or "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include "workload.h"
#include "fileholds.h"

static char box[4096], one[4200], two[4200], a[4200], c[4200], twoa[4200];

/* Ends the workload unless mountinfo shows exactly two mounts on PATH, of one device, in one peer group. */
static void peers(const char *path, const char *step)
{
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[8192], point[4200], dev[2][64], tags[2][256];
    int n = 0;
    while (f && fgets(line, sizeof line, f)) {
        char d[64], p[4200], t[256] = "";
        if (sscanf(line, "%*s %*s %63s %*s %4199s %*s %255s", d, p, t) >= 2 && !strcmp(p, path)) {
            if (n < 2) {
                snprintf(dev[n], sizeof dev[n], "%s", d);
                snprintf(tags[n], sizeof tags[n], "%s", t);
            }
            n++;
        }
    }
    if (f)
        fclose(f);
    (void) point;
    if (n != 2 || strcmp(dev[0], dev[1]) || strncmp(tags[0], "shared:", 7) || strcmp(tags[0], tags[1])) {
        printf("FAIL: %s: %d mounts on %s (%s %s, %s %s)\n", step, n, path, n > 0 ? dev[0] : "-",
               n > 0 ? tags[0] : "-", n > 1 ? dev[1] : "-", n > 1 ? tags[1] : "-");
        exit(1);
    }
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2)
        fail("usage: remapmount BOX");
    snprintf(box, sizeof box, "%s", argv[1]);
    snprintf(one, sizeof one, "%s/1", box);
    snprintf(two, sizeof two, "%s/2", box);
    snprintf(a, sizeof a, "%s/1/a", box);
    snprintf(c, sizeof c, "%s/1/a/c", box);
    snprintf(twoa, sizeof twoa, "%s/2/a", box);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) || tmpfs_on(box, "cryo-t"))
        fail("tmpfs on BOX");
    if (mkdir(one, 0755) || mkdir(two, 0755) || names(one, "in1"))
        fail("mkdir 1, 2");
    if (mount(one, one, NULL, MS_BIND, NULL) || mount(NULL, one, NULL, MS_PRIVATE, NULL) || tmpfs_on(two, "cryo-u"))
        fail("bind 1 on itself, tmpfs on 2");
    if (mkdir(a, 0755) || mkdir(twoa, 0755) || names(a, "ina") || names(two, "inu"))
        fail("mkdir 1/a, 2/a");
    if (mount(a, a, NULL, MS_BIND, NULL) || mount(NULL, a, NULL, MS_SHARED, NULL) || mount(a, twoa, NULL, MS_BIND, NULL))
        fail("bind 1/a on itself, shared, and on 2/a");
    if (mkdir(c, 0755) || tmpfs_on(c, "cryo-c") || names(c, "inc"))
        fail("tmpfs on 1/a/c");
    if (mount(two, one, NULL, MS_MOVE, NULL))
        fail("move 2 onto 1");
    printf("ready\n");
    while (!check)
        pause();
    shows(one, "inu", "the tmpfs moved onto 1");
    shows(a, "ina", "the copy of 1/a on it");
    shows(c, "inc", "the copy of the tmpfs on 1/a/c");
    peers(a, "1/a");
    peers(c, "1/a/c");
    if (umount2(one, MNT_DETACH))
        fail("take the moved tmpfs off 1");
    shows(one, "in1", "the bind of 1 under it");
    shows(a, "ina", "the hidden 1/a");
    if (reads(c, "inc", "inc\n")) /* a peer's umount propagates: the hidden copy of C went with the one on U */
        fail("the hidden tmpfs on 1/a/c stayed when its peer's copy went");
    printf("PASS\n");
    return 0;
}
