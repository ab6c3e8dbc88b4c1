/*
 * A private mapping of a memfd next to a shared one: the pages the private mapping has not
 * copied on write show the memfd's current contents. Before the dump the memfd holds "write1"
 * and one private page was written ("mine"); on SIGUSR2 the shared mapping writes "write2", which
 * the untouched private page must show, while the written one keeps "mine". zdtm's memfd02 found
 * it: the private mapping came back over a copy of the memfd, frozen at the dump. Prints PASS or
 * FAIL: reason.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "workload.h"

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    long pg = sysconf(_SC_PAGESIZE);
    int fd = memfd_create("private-view", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, 2 * pg)) fail("memfd");
    char *shared = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *priv = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (shared == MAP_FAILED || priv == MAP_FAILED) fail("mmap");
    strcpy(shared, "write1");
    strcpy(shared + pg, "write1");
    strcpy(priv + pg, "mine");
    printf("ready\n");
    while (!check) pause();
    if (strcmp(priv, "write1")) { printf("FAIL: private page before the write reads '%s'\n", priv); return 1; }
    strcpy(shared, "write2");
    strcpy(shared + pg, "write2");
    if (strcmp(priv, "write2")) { printf("FAIL: the untouched private page reads '%s', not the memfd's 'write2'\n", priv); return 1; }
    if (strcmp(priv + pg, "mine")) { printf("FAIL: the private page written before the dump reads '%s'\n", priv + pg); return 1; }
    printf("PASS\n");
    return 0;
}
