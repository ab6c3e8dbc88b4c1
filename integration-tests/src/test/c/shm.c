/*
 * Shared anonymous memory between a parent and its child (MAP_SHARED|MAP_ANONYMOUS, then fork).
 * The child counts in word 0 and echoes word 1 (set by the parent) into word 2; page 3 holds a
 * pattern. On SIGUSR2 the parent checks the pattern, that the child still counts, and that a new
 * token it writes comes back through the child: the memory is still one memory shared by both.
 * Prints PASS or FAIL: reason.
 * With "sysv" as argument the memory is a SysV segment (shmget, shmat, then fork: both attached;
 * kept, as PostgreSQL keeps its own): it must still be the same segment, attached twice.
 * Prints "shmid N" first, so whoever runs it can remove the segment afterwards.
 * With "rmid" the segment is marked for removal right after the parent attaches it (fio's idiom:
 * it goes with its last attachment): it must come back attached twice, still marked for removal.
 * With "huge" after any of these the memory is hugetlb memory of two 2 MiB pages (MAP_HUGETLB,
 * SHM_HUGETLB: PostgreSQL's huge_pages=on, a JVM's -XX:+UseLargePages -XX:+UseSHM); the second
 * page is written only by a child that has exited since (no page table of the tree shows it), and
 * after the restore the memory must still be hugetlb memory with both pages' bytes.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include "echoer.h"
#include "hugetlbarea.h"

#define HUGE (2 * 1024 * 1024)

static volatile sig_atomic_t check;
static void on_usr2(int sig) { (void)sig; check = 1; }
static void fail(const char *why) { printf("FAIL: %s\n", why); exit(1); }

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int rmid = argc > 1 && strcmp(argv[1], "rmid") == 0;
    int sysv = rmid || (argc > 1 && strcmp(argv[1], "sysv") == 0), id = -1;
    int huge = strcmp(argv[argc - 1], "huge") == 0;
    size_t size = huge ? 2 * HUGE : 4 * 4096;
    volatile uint64_t *shm;
    if (sysv) {
        id = shmget(IPC_PRIVATE, size, IPC_CREAT | 0600 | (huge ? SHM_HUGETLB : 0));
        if (id < 0) fail("shmget");
        printf("shmid %d\n", id);
        shm = shmat(id, NULL, 0);
        if (shm == (void *)-1) fail("shmat");
        if (rmid && shmctl(id, IPC_RMID, NULL) != 0) fail("IPC_RMID");
    } else {
        shm = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | (huge ? MAP_HUGETLB : 0), -1, 0);
        if (shm == MAP_FAILED) fail("mmap");
    }
    volatile unsigned char *second = (volatile unsigned char *)shm + HUGE;
    if (huge) {
        pid_t writer = fork();
        if (writer == 0) {
            for (int i = 0; i < HUGE; i += 512) second[i] = (unsigned char)(i / 512 * 5 + 1);
            _exit(0);
        }
        if (writer < 0 || waitpid(writer, NULL, 0) != writer) fail("the second page's writer");
    }
    unsigned char *pattern = (unsigned char *)shm + 3 * 4096;
    for (int i = 0; i < 4096; i++) pattern[i] = (unsigned char)(i * 7 + 3);
    start_echoer(shm);
    printf("ready\n");
    while (!check) pause();
    for (int i = 0; i < 4096; i++)
        if (pattern[i] != (unsigned char)(i * 7 + 3)) fail("pattern page changed");
    int echo = echoes(shm, 200);
    if (echo == 1) fail("the child no longer sees the parent's writes");
    if (echo == 2) fail("the child's counter does not move");
    if (huge) {
        if (!hugetlb_area(shm)) fail("the memory is no longer hugetlb memory in 2 MiB pages");
        for (int i = 0; i < HUGE; i += 512)
            if (second[i] != (unsigned char)(i / 512 * 5 + 1)) fail("the page only an exited child wrote changed");
    }
    if (rmid) {
        /* the restore made a new segment: find its id where the memory is mapped */
        char line[512];
        unsigned long lo, hi, ino = 0;
        FILE *maps = fopen("/proc/self/maps", "r");
        while (maps && fgets(line, sizeof line, maps))
            if (sscanf(line, "%lx-%lx %*s %*s %*s %lu", &lo, &hi, &ino) == 3 && lo == (unsigned long)shm) break;
        if (maps) fclose(maps);
        id = (int)ino;
        struct shmid_ds ds;
        if (shmctl(id, IPC_STAT, &ds) != 0) fail("no segment is mapped where the memory was");
        if (!(ds.shm_perm.mode & SHM_DEST)) fail("the segment is no longer marked for removal");
        if (ds.shm_segsz != size) fail("the segment's size changed");
    }
    if (sysv) {
        struct shmid_ds ds;
        if (shmctl(id, IPC_STAT, &ds) != 0) fail("the segment's id is gone");
        if (ds.shm_nattch != 2) fail("the segment is not attached by both processes");
    }
    printf("PASS count=%llu\n", (unsigned long long)shm[0]);
    return 0;
}
