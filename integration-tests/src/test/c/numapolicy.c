/*
 * NUMA memory policies (node 0, which every host has), by MODE:
 *   process  the process's own, set before it makes a thread (numactl --interleave's way): interleave on nodes
 *            0-1 with MPOL_F_STATIC_NODES, which the thread inherits (static: the kernel keeps node 1 as given, on a
 *            host of node 0 alone too, and get_mempolicy gives both)
 *   thread   a thread's own alone (preferred node 0); the main thread keeps the default
 *   mbind    two areas' own: one bound to node 0 (mbind MPOL_BIND), one MPOL_PREFERRED with no node, which is
 *            "local" (OpenBLAS's buffers, numpy's: netdata's python.d.plugin holds one); a third area none
 *   shm      a SysV shared memory segment's (interleave on node 0 over its second page only: the policy lives on
 *            the segment, the mapping split at it)
 * All came back with the default policy, silently. Prints "ready". On SIGUSR2: get_mempolicy gives each thread's
 * and each area's policy as it was. Prints "PASS" or "FAIL: why".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>

#include "workload.h"

#define MPOL_DEFAULT 0
#define MPOL_PREFERRED 1
#define MPOL_BIND 2
#define MPOL_INTERLEAVE 3
#define MPOL_LOCAL 4
#define MPOL_F_STATIC_NODES (1 << 15)
#define MPOL_F_ADDR (1 << 1)

static volatile int thread_mode = -1;
static volatile unsigned long thread_nodes;
static int thread_sets;

static void policy(void *addr, int *mode, unsigned long *nodes) {
    *nodes = 0;
    if (syscall(SYS_get_mempolicy, mode, nodes, 64, addr, addr ? MPOL_F_ADDR : 0)) fail("get_mempolicy");
}

static void expect(const char *what, void *addr, int mode, unsigned long nodes) {
    int m;
    unsigned long n;
    policy(addr, &m, &n);
    if (m != mode || n != nodes) {
        printf("FAIL: %s: mode 0x%x nodes 0x%lx, expected mode 0x%x nodes 0x%lx\n", what, m, n, mode, nodes);
        exit(1);
    }
}

static void *thread(void *arg) {
    (void)arg;
    unsigned long node0 = 1;
    if (thread_sets && syscall(SYS_set_mempolicy, MPOL_PREFERRED, &node0, 65)) fail("set_mempolicy in the thread");
    while (!check) pause();
    int m;
    unsigned long n;
    policy(NULL, &m, &n);
    thread_nodes = n;
    thread_mode = m;
    return NULL;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    const char *mode = argc > 1 ? argv[1] : "";
    unsigned long node0 = 1, nodes01 = 3;
    char *bound = NULL, *local = NULL, *plain = NULL, *shm = NULL;
    if (!strcmp(mode, "process") && syscall(SYS_set_mempolicy, MPOL_INTERLEAVE | MPOL_F_STATIC_NODES, &nodes01, 65))
        fail("set_mempolicy");
    thread_sets = !strcmp(mode, "thread");
    if (!strcmp(mode, "mbind")) {
        bound = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        local = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        plain = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (bound == MAP_FAILED || local == MAP_FAILED || plain == MAP_FAILED) fail("mmap");
        if (syscall(SYS_mbind, bound, 1 << 20, MPOL_BIND, &node0, 65, 0)) fail("mbind MPOL_BIND");
        if (syscall(SYS_mbind, local, 1 << 20, MPOL_PREFERRED, NULL, 0, 0)) fail("mbind MPOL_PREFERRED");
        memset(bound, 'b', 1 << 20);
        memset(local, 'l', 1 << 20);
        memset(plain, 'p', 1 << 20);
    }
    if (!strcmp(mode, "shm")) {
        int id = shmget(IPC_PRIVATE, 3 * 4096, IPC_CREAT | 0600);
        shm = id < 0 ? (char *)-1 : shmat(id, NULL, 0);
        if (shm == (char *)-1) fail("shmget, shmat");
        if (syscall(SYS_mbind, shm + 4096, 4096, MPOL_INTERLEAVE, &node0, 65, 0)) fail("mbind on the segment");
        memset(shm, 's', 3 * 4096);
        shmctl(id, IPC_RMID, NULL); /* gone with its last detach */
    }
    pthread_t t;
    if (pthread_create(&t, NULL, thread, NULL)) fail("pthread_create");
    printf("ready\n");
    alarm(600);
    while (!check) pause();
    pthread_kill(t, SIGUSR2); /* the thread may sleep on: the signal woke this one */
    pthread_join(t, NULL);
    int own = !strcmp(mode, "process") ? MPOL_INTERLEAVE | MPOL_F_STATIC_NODES : MPOL_DEFAULT;
    expect("the main thread's", NULL, own, own ? 3 : 0);
    int theirs = thread_sets ? MPOL_PREFERRED : own;
    if (thread_mode != theirs || thread_nodes != (thread_sets ? 1UL : own ? 3UL : 0)) {
        printf("FAIL: the thread's: mode 0x%x nodes 0x%lx, expected mode 0x%x\n", thread_mode, thread_nodes, theirs);
        return 1;
    }
    if (bound) {
        expect("the bound area's", bound + 8192, MPOL_BIND, 1);
        expect("the local area's", local, MPOL_LOCAL, 0);
        expect("the plain area's", plain, MPOL_DEFAULT, 0);
        if (bound[5] != 'b' || local[5] != 'l' || plain[5] != 'p') fail("the areas' bytes");
    }
    if (shm) {
        expect("the segment's first page", shm, MPOL_DEFAULT, 0);
        expect("the segment's second page", shm + 4096, MPOL_INTERLEAVE, 1);
        if (shm[4096] != 's') fail("the segment's bytes");
    }
    printf("PASS\n");
    return 0;
}
