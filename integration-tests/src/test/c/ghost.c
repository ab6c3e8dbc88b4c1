/*
 * Deleted files still mapped. argv[1]: a directory; argv[2]: the file's size in bytes.
 * Creates DIR/ghost-data (size bytes, byte i = gen(i)), maps it MAP_SHARED and MAP_PRIVATE
 * (page 1 of the private mapping is overwritten: copied on write), forks a child that keeps both
 * mappings, then unlinks the file. On SIGUSR2 the parent checks both mappings' contents, that
 * maps still names DIR/ghost-data "(deleted)", and that a token the child writes into the shared
 * mapping shows in the parent's: both still map one file. Prints PASS or FAIL: reason.
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
#include <time.h>
#include <unistd.h>

#define PG 4096

static volatile sig_atomic_t check;
static void on_usr2(int sig) { (void)sig; check = 1; }
static void nap(long ms) { struct timespec ts = {0, ms * 1000000L}; nanosleep(&ts, NULL); }
static void fail(const char *why) { printf("FAIL: %s\n", why); exit(1); }
static unsigned char gen(size_t i) { return (unsigned char)(i * 11 + 7); }

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 3) fail("usage: ghost DIR SIZE");
    signal(SIGUSR2, on_usr2);
    size_t size = strtoul(argv[2], NULL, 10);
    if (size < 3 * PG) fail("size must be at least 3 pages");
    char path[4096];
    snprintf(path, sizeof path, "%s/ghost-data", argv[1]);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0640);
    if (fd < 0) fail("create");
    unsigned char *buf = malloc(size);
    for (size_t i = 0; i < size; i++) buf[i] = gen(i);
    if (write(fd, buf, size) != (ssize_t)size) fail("write");
    volatile unsigned char *shared = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    unsigned char *priv = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (shared == MAP_FAILED || priv == MAP_FAILED) fail("mmap");
    close(fd);
    memset(priv + PG, 0x5a, PG);
    pid_t parent = getpid();
    int settled[2];
    if (pipe(settled)) fail("pipe");
    if (fork() == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(0);
        close(settled[0]);
        close(settled[1]); /* the parent says ready once this child's state is settled, not before */
        for (;;) {
            /* word at offset 8 of page 2 asks, offset 16 answers */
            uint64_t ask = *(volatile uint64_t *)(shared + 2 * PG + 8);
            if (ask && *(volatile uint64_t *)(shared + 2 * PG + 16) != ask) *(volatile uint64_t *)(shared + 2 * PG + 16) = ask;
            nap(5);
        }
    }
    close(settled[1]);
    char none;
    if (read(settled[0], &none, 1) != 0) fail("read");
    close(settled[0]);
    if (unlink(path)) fail("unlink");
    printf("ready\n");
    while (!check) pause();

    for (size_t i = 0; i < size; i++) {
        if (i >= 2 * PG + 8 && i < 2 * PG + 24) continue;
        if (shared[i] != gen(i)) { printf("FAIL: shared mapping byte %zu\n", i); return 1; }
        unsigned char want = (i >= PG && i < 2 * PG) ? 0x5a : gen(i);
        if (priv[i] != want) { printf("FAIL: private mapping byte %zu\n", i); return 1; }
    }
    FILE *m = fopen("/proc/self/maps", "r");
    char line[4608], want[4200];
    snprintf(want, sizeof want, "%s (deleted)", path);
    int seen = 0;
    while (fgets(line, sizeof line, m)) if (strstr(line, want)) seen++;
    fclose(m);
    if (seen != 2) { printf("FAIL: maps shows %s %d times, not 2\n", want, seen); return 1; }
    uint64_t token = 0x7031000000ull + getpid();
    *(volatile uint64_t *)(shared + 2 * PG + 8) = token;
    for (int i = 0; i < 400 && *(volatile uint64_t *)(shared + 2 * PG + 16) != token; i++) nap(5);
    if (*(volatile uint64_t *)(shared + 2 * PG + 16) != token) fail("the child no longer shares the file");
    if (access(path, F_OK) == 0) fail("the file is back at its path");
    printf("PASS size=%zu\n", size);
    return 0;
}
