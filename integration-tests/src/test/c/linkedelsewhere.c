/*
 * A deleted name whose file is still linked under another name in another directory (zdtm's
 * unlink_regular00; it used to be refused: a copy would have cut the program off from the file).
 * Argument: DIR.
 *   - DIR/gone/held: opened read-write, linked as DIR/kept/held.link, unlinked, and its directory
 *     DIR/gone removed, as unlink_regular00 does; 4 bytes written through the fd.
 *   - DIR/gone2/mapped: mapped shared, linked as DIR/kept/mapped.link, unlinked, its directory
 *     removed, its fd closed; "map" written through the mapping.
 * Prints "ready" and waits for SIGUSR2, then checks that the fd and the mapping are those very
 * files: the same inode as the live names, the fd's link reads "DIR/gone/held (deleted)", the
 * offset is kept, and what is written through each is read back through the live name. Prints
 * PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

static void path(char *out, const char *dir, const char *name) {
    snprintf(out, PATH_MAX, "%s/%s", dir, name);
}

static void same_file(int fd, const char *live) {
    struct stat a, b;
    if (fstat(fd, &a) || stat(live, &b)) fail("stat");
    if (a.st_ino != b.st_ino || a.st_dev != b.st_dev) fail("not the file still linked elsewhere");
}

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: linkedelsewhere DIR");
    char gone[PATH_MAX], held[PATH_MAX], gone2[PATH_MAX], mapped[PATH_MAX], kept[PATH_MAX];
    char heldLink[PATH_MAX], mappedLink[PATH_MAX];
    path(gone, argv[1], "gone"); path(held, argv[1], "gone/held"); path(gone2, argv[1], "gone2");
    path(mapped, argv[1], "gone2/mapped"); path(kept, argv[1], "kept");
    path(heldLink, argv[1], "kept/held.link"); path(mappedLink, argv[1], "kept/mapped.link");
    if (mkdir(gone, 0700) || mkdir(gone2, 0700) || mkdir(kept, 0700)) fail("mkdir");

    int fd = open(held, O_RDWR | O_CREAT, 0640);
    if (fd < 0 || link(held, heldLink) || unlink(held) || rmdir(gone)) fail("held file");
    if (write(fd, "abcd", 4) != 4) fail("write");

    int m = open(mapped, O_RDWR | O_CREAT, 0600);
    if (m < 0 || ftruncate(m, 4096)) fail("mapped file");
    char *map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
    if (map == MAP_FAILED || link(mapped, mappedLink) || unlink(mapped) || rmdir(gone2)) fail("mapping");
    close(m);
    memcpy(map, "map", 3);

    signal(SIGUSR2, on_usr2);
    printf("ready\n");
    fflush(stdout);
    while (!check) pause();

    same_file(fd, heldLink);
    char self[64], target[PATH_MAX + 16], want[PATH_MAX + 16];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(self, target, sizeof target - 1);
    if (n < 0) fail("readlink");
    target[n] = 0;
    snprintf(want, sizeof want, "%s (deleted)", held);
    if (strcmp(target, want)) { printf("FAIL: the fd reads %s, not %s\n", target, want); return 1; }
    if (lseek(fd, 0, SEEK_CUR) != 4) fail("offset");
    if (write(fd, "efgh", 4) != 4) fail("write after");
    char buf[16] = {0};
    int live = open(heldLink, O_RDONLY);
    if (live < 0 || read(live, buf, sizeof buf) != 8 || memcmp(buf, "abcdefgh", 8)) fail("written through the fd");

    memcpy(map + 3, "ped", 3);
    int ml = open(mappedLink, O_RDONLY);
    memset(buf, 0, sizeof buf);
    if (ml < 0 || read(ml, buf, 6) != 6 || memcmp(buf, "mapped", 6)) fail("written through the mapping");
    struct stat a, b;
    if (stat(mappedLink, &b)) fail("stat link");
    char line[PATH_MAX + 128];
    FILE *maps = fopen("/proc/self/maps", "r");
    int found = 0;
    while (maps && fgets(line, sizeof line, maps)) {
        unsigned long start; unsigned long ino;
        if (sscanf(line, "%lx-%*x %*s %*x %*x:%*x %lu", &start, &ino) == 2 && start == (unsigned long)map)
            found = ino == b.st_ino && strstr(line, "(deleted)") != NULL;
    }
    (void)a;
    if (!found) fail("the mapping is not the file still linked elsewhere, under its deleted name");
    printf("PASS\n");
    return 0;
}
