/*
 * mlockall(MCL_CURRENT | MCL_FUTURE), with MCL_ONFAULT when run with "onfault" (chronyd -m, ntpd and
 * corosync lock themselves so). On SIGUSR2 it maps a new area and grows the heap: both must come
 * locked (VmFlags "lo"), and populated at once unless MCL_ONFAULT; the area mapped before must still
 * be locked. zdtm's mlock_setuid-like probe found it: the restore gave back each mapping's lock but
 * not the mm's default, so new mappings came unlocked, silently. Locked areas without access (PROT_NONE) must
 * come back locked too. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "workload.h"

/* 1 when the area at a is locked (VmFlags "lo"), 0 when not, -1 when not found */
static int locked(void *a) {
    char line[512];
    FILE *f = fopen("/proc/self/smaps", "r");
    unsigned long s, e;
    int in = 0, lo = -1;
    while (f && fgets(line, sizeof line, f)) {
        char c;
        if (sscanf(line, "%lx-%lx %c", &s, &e, &c) == 3 && (c == 'r' || c == '-')) in = (unsigned long)a >= s && (unsigned long)a < e;
        if (in && !strncmp(line, "VmFlags:", 8)) {
            lo = strstr(line, " lo") != NULL;
            break;
        }
    }
    if (f) fclose(f);
    return lo;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int onfault = argc > 1 && !strcmp(argv[1], "onfault");
    void *before = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mlockall(MCL_CURRENT | MCL_FUTURE | (onfault ? MCL_ONFAULT : 0))) fail("mlockall");
    /* locked areas without access: one mapped PROT_NONE (locked by MCL_FUTURE, nothing faulted in), one shared,
       written, then made inaccessible (stress-ng's mlock stressor): the restore's mlock2 of such an area failed */
    void *none = mmap(NULL, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *shut = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (none == MAP_FAILED || shut == MAP_FAILED) fail("mmap");
    shut[0] = 1;
    if (mprotect(shut, 8192, PROT_NONE)) fail("mprotect");
    printf("ready\n");
    while (!check) pause();
    char *late = mmap(NULL, 16384, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *heap = sbrk(0);
    if (late == MAP_FAILED || sbrk(1 << 20) == (void *)-1) fail("mmap/sbrk");
    unsigned char resident[4];
    if (mincore(late, 16384, resident)) fail("mincore");
    if (locked(before) != 1) { printf("FAIL: the area mapped before lost its lock\n"); return 1; }
    if (locked(none) != 1 || locked(shut) != 1) { printf("FAIL: an inaccessible area lost its lock\n"); return 1; }
    if (locked(late) != 1 || locked(heap) != 1) {
        printf("FAIL: MCL_FUTURE lost: a new mapping is %slocked, the grown heap %slocked\n", locked(late) == 1 ? "" : "not ",
               locked(heap) == 1 ? "" : "not ");
        return 1;
    }
    if ((resident[3] & 1) == onfault) {
        printf("FAIL: a new locked mapping is %spopulated with%s MCL_ONFAULT\n", onfault ? "" : "not ", onfault ? "" : "out");
        return 1;
    }
    printf("PASS\n");
    return 0;
}
