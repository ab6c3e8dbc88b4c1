/*
 * memfd_secret(2) memory (zdtm's memfd-secret00), which the kernel hides from every other process:
 * by MODE the process keeps
 *   fd    the memfd_secret fd, three pages long, a secret written in its second page through a mapping
 *         since unmapped (the page stays in the object), not mapped
 *   both  the fd and a shared mapping of its three pages with a secret in the first (zdtm's case), the
 *         third page written too, the second never touched
 *   fork  as both, and a child that shares the object: after the restore it writes, the parent reads
 *   map   a shared mapping of it with a secret written in, the fd closed (refused: cryo reads the
 *         pages through the fd)
 * Prints "ready", then on SIGUSR2 checks that the bytes are back, the fd and the mapping are the same
 * object, and the untouched page reads zero; prints PASS or FAIL.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

#define SECRET "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define PAGE 4096

/** The inode of the file mapped at m, from /proc/self/maps. */
static unsigned long mapped_inode(void *m) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return 0;
    char line[512];
    unsigned long start, ino = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long s, i;
        if (sscanf(line, "%lx-%*x %*s %*x %*x:%*x %lu", &s, &i) == 2 && s == (unsigned long)m) {
            start = s;
            ino = i;
            (void)start;
            break;
        }
    }
    fclose(f);
    return ino;
}

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: secretmem fd|both|fork|map");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    const char *mode = argv[1];
    int fd = syscall(447 /* memfd_secret */, 0);
    if (fd < 0 || ftruncate(fd, 3 * PAGE)) fail("memfd_secret");
    char *m = NULL;
    if (!strcmp(mode, "fd")) {
        char *t = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (t == MAP_FAILED) fail("mmap");
        strcpy(t + PAGE, SECRET);
        munmap(t, 3 * PAGE);
    } else {
        m = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) fail("mmap");
        strcpy(m, SECRET);
        strcpy(m + 2 * PAGE, "third page");
        if (!strcmp(mode, "map")) close(fd);
    }
    pid_t child = 0;
    if (!strcmp(mode, "fork")) {
        child = fork();
        if (child < 0) fail("fork");
        if (child == 0) {
            while (!check) pause();
            strcpy(m + 2 * PAGE, "from the child");
            _exit(0);
        }
    }
    printf("ready\n");
    alarm(600);
    while (!check) pause();
    struct stat st;
    if (fstat(fd, &st) || st.st_size != 3 * PAGE) fail("the fd's size");
    if (!m) {
        char *t = mmap(NULL, 3 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
        if (t == MAP_FAILED) fail("mmap after the restore");
        if (strcmp(t + PAGE, SECRET)) fail("the secret in the fd's object");
        if (t[0] || t[2 * PAGE]) fail("pages never written hold bytes");
        printf("PASS\n");
        return 0;
    }
    if (strcmp(m, SECRET)) fail("the secret in the mapping");
    for (int i = 0; i < PAGE; i++)
        if (m[PAGE + i]) fail("the untouched page holds bytes");
    if (child) {
        kill(child, SIGUSR2);
        int status;
        if (waitpid(child, &status, 0) != child || !WIFEXITED(status)) fail("the child");
        if (strcmp(m + 2 * PAGE, "from the child")) fail("the child's write not seen: not the same object");
    } else if (strcmp(m + 2 * PAGE, "third page")) {
        fail("the third page");
    }
    if (st.st_ino != mapped_inode(m)) fail("the fd and the mapping are not the same object");
    char *again = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (again == MAP_FAILED) fail("mmap of the fd after the restore");
    again[5] = '!';
    if (m[5] != '!') fail("a write through the fd's new mapping not seen in the old one");
    printf("PASS\n");
    return 0;
}
