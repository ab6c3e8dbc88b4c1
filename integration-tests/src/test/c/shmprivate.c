/*
 * Shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS) opened through /proc/self/map_files, as
 * zdtm's shmemfd-priv does: the fd is the memory object itself. A private mapping of that fd (at
 * page 1) has copied one page on write; the fd stays open. On SIGUSR2 the shared area writes a
 * page the private mapping has not copied (it must see it), the fd writes a page with pwrite (the
 * shared area must see it), and the copied page keeps its own bytes. Before the fix the private
 * mapping and the fd came back over copies of the object. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "workload.h"

#define PG 4096

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int *shared = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) fail("mmap shared");
    for (int i = 0; i < 4; i++) shared[i * PG / 4] = 10 + i;
    char path[128];
    snprintf(path, sizeof path, "/proc/self/map_files/%lx-%lx", (long)shared, (long)shared + 4 * PG);
    int fd = open(path, O_RDWR);
    if (fd < 0) fail("open map_files");
    int *priv = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, PG);
    if (priv == MAP_FAILED) fail("mmap private");
    priv[0] = 99; /* copied on write: object page 1 */
    printf("ready\n");
    while (!check) pause();
    if (priv[0] != 99 || priv[PG / 4] != 12) { printf("FAIL: private pages read %d %d\n", priv[0], priv[PG / 4]); return 1; }
    shared[2 * PG / 4] = 42; /* object page 2 = private page 1, not copied */
    if (priv[PG / 4] != 42) { printf("FAIL: the private mapping's untouched page reads %d, not 42\n", priv[PG / 4]); return 1; }
    int v = 77;
    if (pwrite(fd, &v, sizeof v, 3 * PG) != sizeof v) fail("pwrite");
    if (shared[3 * PG / 4] != 77) { printf("FAIL: a write through the fd is not in the shared area (%d)\n", shared[3 * PG / 4]); return 1; }
    if (shared[PG / 4] != 11) { printf("FAIL: the private copy leaked into the object (%d)\n", shared[PG / 4]); return 1; }
    printf("PASS\n");
    return 0;
}
