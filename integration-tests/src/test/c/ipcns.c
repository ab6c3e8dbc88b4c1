/*
 * A container's SysV objects: run as the first process of an ipc namespace of its own (unshare
 * --ipc --fork). It makes a segment it and its child attach (the child counts in it), a private
 * segment nobody attaches with a pattern in its second page, a semaphore set, a message queue
 * with three messages, and changes the namespace's msgmnb and its POSIX queue limits and defaults
 * (fs/mqueue) and, once its objects are made, the ids its next ones get (zdtm's ipc_namespace found
 * those back at a new namespace's). On SIGUSR2 it checks that all of them
 * are there with the same ids, owners, modes and contents, the segment still shared with the
 * child, and takes the messages in order. With "huge" it also makes two segments of 2 MiB huge
 * pages (SHM_HUGETLB): a JVM's heap with -XX:+UseLargePages -XX:+UseSHM, two pages it and its
 * child attach and that it marks for removal (IPC_RMID), and one of one page nobody attaches; both
 * must come back hugetlb with their bytes, the first still marked and attached twice. With "mq" it
 * also holds a POSIX message queue of the namespace (mode 0640, 4 messages of 64 bytes at most) with
 * two messages, open read-write and, apart, write-only and non-blocking; they must come back with the
 * queue's mode, limits and messages in their order, each fd with its flags. Prints PASS or FAIL: reason.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sys/ipc.h>
#include <sys/stat.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>
#include "echoer.h"
#include "hugetlbarea.h"

#define HUGE (2 * 1024 * 1024)

static volatile sig_atomic_t check;
static void on_usr2(int sig) { (void)sig; check = 1; }
static void fail(const char *why) { printf("FAIL: %s\n", why); exit(1); }
struct msg { long type; char text[32]; };
static const struct { long type; const char *text; } sent[] = {{1, "alpha"}, {7, "beta"}, {2, ""}};

/* the namespace's limits it changes, below /proc/sys (a new namespace has 16384, 256, 10, 8192, 10, 8192) */
static const struct { const char *name, *value; } limits[] = {
    {"kernel/msgmnb", "32768"}, {"fs/mqueue/queues_max", "300"}, {"fs/mqueue/msg_max", "20"},
    {"fs/mqueue/msgsize_max", "16384"}, {"fs/mqueue/msg_default", "15"}, {"fs/mqueue/msgsize_default", "4096"},
};

/* the ids its next objects get, set once its objects are made (making one resets it to -1) */
static const struct { const char *name, *value; } next_ids[] = {
    {"kernel/msg_next_id", "4242"}, {"kernel/sem_next_id", "4343"}, {"kernel/shm_next_id", "4444"},
};

static void put_sysctl(const char *name, const char *value) {
    char path[128];
    snprintf(path, sizeof path, "/proc/sys/%s", name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(value, f) < 0 || fclose(f) != 0) fail("cannot write a sysctl");
}

static long get_sysctl(const char *name) {
    char path[128];
    long v = -1;
    snprintf(path, sizeof path, "/proc/sys/%s", name);
    FILE *f = fopen(path, "r");
    if (!f || fscanf(f, "%ld", &v) != 1) fail("cannot read a sysctl");
    fclose(f);
    return v;
}

/* the byte at offset i of a hugetlb segment with pattern p, written every 512 bytes */
static unsigned char huge_byte(int i, int p) { return (unsigned char)(i / 512 * p + 1); }

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int huge = argc > 1 && strcmp(argv[1], "huge") == 0, heap = -1, kept = -1;
    int mq = argc > 1 && strcmp(argv[1], "mq") == 0;
    mqd_t mq_rw = -1, mq_w = -1;
    if (mq) {
        struct mq_attr attr = { .mq_maxmsg = 4, .mq_msgsize = 64 };
        umask(0);
        mq_rw = mq_open("/cryo-ns-q", O_RDWR | O_CREAT | O_EXCL, 0640, &attr);
        mq_w = mq_open("/cryo-ns-q", O_WRONLY | O_NONBLOCK);
        if (mq_rw < 0 || mq_w < 0 || mq_send(mq_rw, "one", 3, 1) || mq_send(mq_w, "two", 3, 5)) fail("the POSIX queue");
    }
    volatile unsigned char *h = NULL;
    if (huge) {
        heap = shmget(IPC_PRIVATE, 2 * HUGE, IPC_CREAT | SHM_HUGETLB | 0600);
        kept = shmget(0x4444, HUGE, IPC_CREAT | SHM_HUGETLB | 0640);
        if (heap < 0 || kept < 0) fail("cannot make the hugetlb segments (no free huge pages?)");
        h = shmat(heap, NULL, 0);
        unsigned char *k = shmat(kept, NULL, 0);
        if (h == (void *)-1 || k == (void *)-1) fail("shmat of a hugetlb segment");
        for (int i = 0; i < 2 * HUGE; i += 512) h[i] = huge_byte(i, 3);
        for (int i = 0; i < HUGE; i += 512) k[i] = huge_byte(i, 5);
        shmdt(k);
        if (shmctl(heap, IPC_RMID, NULL) != 0) fail("IPC_RMID of the hugetlb heap");
    }
    signal(SIGUSR2, on_usr2);
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) put_sysctl(limits[i].name, limits[i].value);
    int shared = shmget(0x1234, 3 * 4096, IPC_CREAT | 0640);
    int loose = shmget(IPC_PRIVATE, 2 * 4096 - 100, IPC_CREAT | 0600);
    int sems = semget(0x2222, 3, IPC_CREAT | 0640);
    int queue = msgget(0x3333, IPC_CREAT | 0620);
    if (shared < 0 || loose < 0 || sems < 0 || queue < 0) fail("cannot make the objects");
    volatile uint64_t *shm = shmat(shared, NULL, 0);
    unsigned char *l = shmat(loose, NULL, 0);
    if (shm == (void *)-1 || l == (void *)-1) fail("shmat");
    for (int i = 0; i < 4096 - 100; i++) l[4096 + i] = (unsigned char)(i * 13 + 1);
    shmdt(l);
    unsigned char *pattern = (unsigned char *)shm + 2 * 4096;
    for (int i = 0; i < 4096; i++) pattern[i] = (unsigned char)(i * 7 + 3);
    unsigned short values[3] = {1, 5, 0};
    if (semctl(sems, 0, SETALL, values) != 0) fail("SETALL");
    for (int i = 0; i < 3; i++) {
        struct msg m = {sent[i].type, ""};
        strcpy(m.text, sent[i].text);
        if (msgsnd(queue, &m, strlen(sent[i].text), 0) != 0) fail("msgsnd");
    }
    start_echoer(shm);
    for (size_t i = 0; i < sizeof next_ids / sizeof next_ids[0]; i++) put_sysctl(next_ids[i].name, next_ids[i].value);
    printf("ready shm %d %d sem %d msg %d\n", shared, loose, sems, queue);
    while (!check) pause();
    if (shmget(0x1234, 0, 0) != shared || semget(0x2222, 0, 0) != sems || msgget(0x3333, 0) != queue)
        fail("a key names another id");
    for (int i = 0; i < 4096; i++)
        if (pattern[i] != (unsigned char)(i * 7 + 3)) fail("the shared segment's pattern changed");
    if (echoes(shm, 400) != 0) fail("the child no longer shares the segment");
    struct shmid_ds ds;
    if (shmctl(shared, IPC_STAT, &ds) != 0 || ds.shm_nattch != 2 || (ds.shm_perm.mode & 0777) != 0640
        || ds.shm_segsz != 3 * 4096) fail("the shared segment's attachments, mode or size");
    if (shmctl(loose, IPC_STAT, &ds) != 0 || ds.shm_nattch != 0 || ds.shm_segsz != 2 * 4096 - 100)
        fail("the private segment's id, attachments or size");
    l = shmat(loose, NULL, SHM_RDONLY);
    if (l == (void *)-1) fail("shmat of the private segment");
    for (int i = 0; i < 4096; i++)
        if (l[i] != 0) fail("the private segment's first page is not zeros");
    for (int i = 0; i < 4096 - 100; i++)
        if (l[4096 + i] != (unsigned char)(i * 13 + 1)) fail("the private segment's pattern changed");
    unsigned short got[3];
    struct semid_ds sds;
    if (semctl(sems, 0, GETALL, got) != 0 || got[0] != 1 || got[1] != 5 || got[2] != 0) fail("semaphore values");
    if (semctl(sems, 0, IPC_STAT, &sds) != 0 || (sds.sem_perm.mode & 0777) != 0640) fail("the semaphore set's mode");
    struct msqid_ds mds;
    if (msgctl(queue, IPC_STAT, &mds) != 0 || mds.msg_qnum != 3 || (mds.msg_perm.mode & 0777) != 0620)
        fail("the queue's messages or mode");
    for (int i = 0; i < 3; i++) {
        struct msg m;
        memset(&m, 0, sizeof m);
        ssize_t n = msgrcv(queue, &m, sizeof m.text, 0, IPC_NOWAIT);
        if (n != (ssize_t)strlen(sent[i].text) || m.type != sent[i].type || strcmp(m.text, sent[i].text) != 0)
            fail("a message changed or came out of order");
    }
    for (size_t i = 0; i < sizeof limits / sizeof limits[0] + sizeof next_ids / sizeof next_ids[0]; i++) {
        const char *name = i < sizeof limits / sizeof limits[0] ? limits[i].name : next_ids[i - sizeof limits / sizeof limits[0]].name;
        const char *value = i < sizeof limits / sizeof limits[0] ? limits[i].value : next_ids[i - sizeof limits / sizeof limits[0]].value;
        if (get_sysctl(name) != atol(value)) {
            printf("FAIL: the namespace's %s is %ld, not %s\n", name, get_sysctl(name), value);
            return 1;
        }
    }
    if (mq) {
        struct mq_attr now;
        struct stat st;
        char buf[64];
        unsigned prio;
        if (mq_getattr(mq_rw, &now) || now.mq_maxmsg != 4 || now.mq_msgsize != 64 || now.mq_curmsgs != 2 || now.mq_flags)
            fail("the POSIX queue's attributes");
        if (mq_getattr(mq_w, &now) || now.mq_flags != O_NONBLOCK || (fcntl(mq_w, F_GETFL) & O_ACCMODE) != O_WRONLY)
            fail("the POSIX queue's write-only, non-blocking fd");
        if (fstat(mq_rw, &st) || (st.st_mode & 0777) != 0640) fail("the POSIX queue's mode");
        if (mq_receive(mq_rw, buf, sizeof buf, &prio) != 3 || memcmp(buf, "two", 3) || prio != 5
            || mq_receive(mq_rw, buf, sizeof buf, &prio) != 3 || memcmp(buf, "one", 3) || prio != 1)
            fail("the POSIX queue's messages");
        if (mq_send(mq_w, "three", 5, 2) || mq_receive(mq_rw, buf, sizeof buf, &prio) != 5 || prio != 2)
            fail("a message through the POSIX queue after the restore");
    }
    if (huge) {
        if (!hugetlb_area(h)) fail("the removed segment is no longer hugetlb memory in 2 MiB pages");
        for (int i = 0; i < 2 * HUGE; i += 512)
            if (h[i] != huge_byte(i, 3)) fail("the removed hugetlb segment's bytes changed");
        if (shmctl(heap, IPC_STAT, &ds) != 0 || !(ds.shm_perm.mode & SHM_DEST) || ds.shm_nattch != 2
            || ds.shm_segsz != 2 * HUGE) fail("the removed hugetlb segment's mark, attachments or size");
        if (shmget(0x4444, 0, 0) != kept) fail("the kept hugetlb segment's key names another id");
        unsigned char *k = shmat(kept, NULL, SHM_RDONLY);
        if (k == (void *)-1 || !hugetlb_area(k)) fail("the kept segment is no longer hugetlb memory in 2 MiB pages");
        for (int i = 0; i < HUGE; i++)
            if (k[i] != (i % 512 ? 0 : huge_byte(i, 5))) fail("the kept hugetlb segment's bytes changed");
        if (shmctl(kept, IPC_STAT, &ds) != 0 || (ds.shm_perm.mode & 0777) != 0640) fail("the kept segment's mode");
    }
    printf("PASS\n");
    return 0;
}
