/*
 * A child forked while a pre-copy dump's rounds run. Usage: forkmid PARENT-MiB CHILD-MiB [late]. The
 * parent fills PARENT-MiB of memory (page i: a pattern of i), prints "ready" and waits until its area
 * shows the "uw" flag in /proc/self/smaps (a pre-copy's tracking registered it); with "late" it then
 * also waits until a round's walk write-protected its first page (pagemap bit 57), rewrites that page
 * and waits for the next walk to protect it again: right after the second round's walk, the last
 * one while it runs when nothing else is written, so the fork lands between that walk and the
 * freeze. Then it forks a child,
 * which fills CHILD-MiB of its own (page i: a pattern of i and its generation) and keeps rewriting
 * one page every 10 ms (a generation per page, kept in a table of its own memory) until SIGUSR2.
 * On SIGUSR2 (after the restore) the parent checks its area and passes the signal on; the child checks
 * every page against its generation and exits 0 or 1; the parent prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

#define PAGE 4096

static void fill(char *page, uint64_t seed) {
    uint64_t *w = (uint64_t *)page;
    for (int j = 0; j < PAGE / 8; j++) w[j] = seed * 2654435761u + (uint64_t)j;
}

static int holds(const char *page, uint64_t seed) {
    const uint64_t *w = (const uint64_t *)page;
    for (int j = 0; j < PAGE / 8; j++) {
        if (w[j] != seed * 2654435761u + (uint64_t)j) return 0;
    }
    return 1;
}

static int tracked(const char *area) {
    char line[512], want[64];
    snprintf(want, sizeof want, "%lx-", (unsigned long)(uintptr_t)area);
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) fail("open /proc/self/smaps");
    int in = 0, yes = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, want, strlen(want))) in = 1;
        else if (in && !strncmp(line, "VmFlags:", 8)) {
            yes = strstr(line, " uw") != NULL;
            break;
        }
    }
    fclose(f);
    return yes;
}

/* Whether a pre-copy round's walk write-protected the page at p since it was last written. */
static int protectedByAWalk(const char *p) {
    uint64_t e = 0;
    int fd = open("/proc/self/pagemap", O_RDONLY);
    if (fd < 0 || pread(fd, &e, sizeof e, (off_t)((uintptr_t)p / PAGE) * 8) != sizeof e) fail("read pagemap");
    close(fd);
    return (e >> 57) & 1;
}

static void awaitAWalk(const char *p) {
    while (!check && !protectedByAWalk(p)) usleep(200);
}

static void child(size_t pages) {
    char *area = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint32_t *gen = mmap(NULL, pages * sizeof *gen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED || gen == MAP_FAILED) _exit(2);
    for (size_t i = 0; i < pages; i++) fill(area + i * PAGE, i << 20);
    for (size_t i = 0; !check; i = (i + 1) % pages) {
        gen[i]++;
        fill(area + i * PAGE, (i << 20) + gen[i]);
        usleep(10000);
    }
    for (size_t i = 0; i < pages; i++) {
        if (!holds(area + i * PAGE, (i << 20) + gen[i])) {
            printf("FAIL: child page %zu does not hold generation %u\n", i, gen[i]);
            fflush(stdout);
            _exit(1);
        }
    }
    _exit(0);
}

int main(int argc, char **argv) {
    if (argc != 3 && !(argc == 4 && !strcmp(argv[3], "late"))) fail("usage: forkmid PARENT-MiB CHILD-MiB [late]");
    size_t pages = (size_t)atoi(argv[1]) * 256, childPages = (size_t)atoi(argv[2]) * 256;
    signal(SIGUSR2, on_usr2);
    char *area = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) fail("mmap");
    for (size_t i = 0; i < pages; i++) fill(area + i * PAGE, i);
    printf("ready\n");
    fflush(stdout);
    while (!check && !tracked(area)) usleep(3000);
    if (argc == 4) {
        awaitAWalk(area);
        fill(area, 0); /* the same bytes, written again */
        awaitAWalk(area);
    }
    pid_t c = fork();
    if (c < 0) fail("fork");
    if (c == 0) child(childPages);
    printf("forked %d\n", c);
    fflush(stdout);
    while (!check) pause();
    for (size_t i = 0; i < pages; i++) {
        if (!holds(area + i * PAGE, i)) {
            printf("FAIL: parent page %zu changed\n", i);
            return 1;
        }
    }
    kill(c, SIGUSR2);
    int st;
    if (waitpid(c, &st, 0) != c) fail("waitpid");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        printf("FAIL: the child ended with status 0x%x\n", st);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
