/*
 * sharednone — shared anonymous memory kept without access (PROT_NONE) while dumped: 64 pages, each
 * filled with its own byte, then mprotect(PROT_NONE), as a program keeps an area it means to open up
 * later. A pre-copy round reads shared memory through its carrier's mapping with process_vm_readv,
 * which refuses an area without access: the piece was owed to the frozen round, which did not read it
 * again (the object counted as sent), and the area came back all zeros. Prints "ready" and waits.
 *
 * On SIGUSR2 makes the area readable again and checks every byte. Prints "PASS" or "FAIL: <reason>".
 */
#include <string.h>
#include <sys/mman.h>

#include "workload.h"

#define PAGES 64
#define PG 4096

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    char *p = mmap(NULL, PAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) fail("mmap");
    for (int i = 0; i < PAGES; i++)
        memset(p + i * PG, 'A' + i, PG);
    if (mprotect(p, PAGES * PG, PROT_NONE)) fail("mprotect PROT_NONE");
    printf("ready\n");
    while (!check) pause();

    if (mprotect(p, PAGES * PG, PROT_READ)) fail("mprotect PROT_READ");
    for (int i = 0; i < PAGES; i++)
        for (int j = 0; j < PG; j += 512)
            if (p[i * PG + j] != (char)('A' + i)) {
                printf("FAIL: after the restore, page %d holds %d\n", i, p[i * PG + j]);
                return 1;
            }
    printf("PASS\n");
    return 0;
}
