/*
 * memfds: "cryo-shared" (MFD_ALLOW_SEALING, 5 pages + 100 bytes, sealed F_SEAL_SHRINK|F_SEAL_GROW,
 * fd position 1234) whose pages 1-2 the parent maps and which a child maps whole and keeps the fd
 * of; and "cryo-fd-only" (3 pages, no seals, MFD_CLOEXEC) held only by an fd. byte i = gen(i).
 * On SIGUSR2 the parent checks both by fd (name in /proc/self/fd, size, seals, position,
 * contents, a refused ftruncate), its mapping, and that a request it writes through the fd is
 * answered by the child through the child's mapping: one memfd shared by fds, mappings and tasks.
 * Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PG 4096
#define SIZE (5 * PG + 100)
#define REQ (3 * PG + 8)
#define ANS (3 * PG + 16)

static volatile sig_atomic_t check;
static void on_usr2(int sig) { (void)sig; check = 1; }
static void nap(long ms) { struct timespec ts = {0, ms * 1000000L}; nanosleep(&ts, NULL); }
static void fail(const char *why) { printf("FAIL: %s\n", why); exit(1); }
static unsigned char gen(size_t i) { return (unsigned char)(i * 5 + 3); }

static int fill(int fd, size_t size) {
    unsigned char *b = malloc(size);
    for (size_t i = 0; i < size; i++) b[i] = gen(i);
    int ok = pwrite(fd, b, size, 0) == (ssize_t)size;
    free(b);
    return ok;
}

static int same(int fd, size_t size, size_t skip_from, size_t skip_to) {
    unsigned char *b = malloc(size);
    int ok = pread(fd, b, size, 0) == (ssize_t)size;
    for (size_t i = 0; ok && i < size; i++)
        if ((i < skip_from || i >= skip_to) && b[i] != gen(i)) ok = 0;
    free(b);
    return ok;
}

static int named(int fd, const char *name) {
    char link[64], target[256];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 0) return 0;
    target[n] = 0;
    char want[256];
    snprintf(want, sizeof want, "/memfd:%s (deleted)", name);
    return !strcmp(target, want);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    int fd = memfd_create("cryo-shared", MFD_ALLOW_SEALING);
    int only = memfd_create("cryo-fd-only", MFD_CLOEXEC);
    if (fd < 0 || only < 0) fail("memfd_create");
    if (ftruncate(fd, SIZE) || !fill(fd, SIZE)) fail("fill cryo-shared");
    if (ftruncate(only, 3 * PG) || !fill(only, 3 * PG)) fail("fill cryo-fd-only");
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW)) fail("seal");
    if (lseek(fd, 1234, SEEK_SET) != 1234) fail("lseek");
    unsigned char *mine = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, PG);
    if (mine == MAP_FAILED) fail("mmap");
    pid_t parent = getpid();
    int settled[2];
    if (pipe(settled)) fail("pipe");
    if (fork() == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(0);
        volatile unsigned char *all = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (all == MAP_FAILED) _exit(1);
        close(settled[0]);
        close(settled[1]); /* the parent says ready once this child is as dumped, not before */
        for (;;) {
            uint64_t req = *(volatile uint64_t *)(all + REQ);
            if (req && *(volatile uint64_t *)(all + ANS) != req) *(volatile uint64_t *)(all + ANS) = req;
            nap(5);
        }
    }
    close(settled[1]);
    char none;
    if (read(settled[0], &none, 1) != 0) fail("read");
    close(settled[0]);
    printf("ready\n");
    while (!check) pause();

    if (!named(fd, "cryo-shared") || !named(only, "cryo-fd-only")) fail("a memfd lost its name");
    struct stat st;
    if (fstat(fd, &st) || st.st_size != SIZE) fail("cryo-shared has another size");
    if (fstat(only, &st) || st.st_size != 3 * PG) fail("cryo-fd-only has another size");
    if (fcntl(fd, F_GET_SEALS) != (F_SEAL_SHRINK | F_SEAL_GROW)) fail("cryo-shared lost its seals");
    if (fcntl(only, F_GET_SEALS) != F_SEAL_SEAL) fail("cryo-fd-only may be sealed now");
    if (!(fcntl(only, F_GETFD) & FD_CLOEXEC)) fail("cryo-fd-only lost FD_CLOEXEC");
    if (lseek(fd, 0, SEEK_CUR) != 1234) fail("cryo-shared lost its position");
    if (!same(fd, SIZE, REQ, ANS + 8)) fail("cryo-shared lost its contents");
    if (!same(only, 3 * PG, 0, 0)) fail("cryo-fd-only lost its contents");
    for (size_t i = 0; i < 2 * PG; i++)
        if (mine[i] != gen(PG + i)) fail("the mapping of cryo-shared lost its contents");
    if (ftruncate(fd, PG) == 0) fail("a sealed memfd could shrink");
    uint64_t token = 0x3e3fd00000ull + getpid();
    if (pwrite(fd, &token, 8, REQ) != 8) fail("pwrite");
    uint64_t ans = 0;
    for (int i = 0; i < 400 && ans != token; i++) {
        nap(5);
        if (pread(fd, &ans, 8, ANS) != 8) fail("pread");
    }
    if (ans != token) fail("the child's mapping and the parent's fd are no longer one memfd");
    memset(mine, 0x77, 16);
    unsigned char b[16];
    if (pread(fd, b, 16, PG) != 16 || b[0] != 0x77 || b[15] != 0x77) fail("the parent's mapping and fd differ");
    printf("PASS\n");
    return 0;
}
