/*
 * counter — single-threaded checkpoint/restore workload (zdtm style).
 *
 * Usage: counter <output-file>
 *
 * Prints "ready", then every 10 ms appends the next integer to the file
 * through one fd that stays open for the whole life of the process, and
 * churns malloc/free.  SIGUSR1 increments a counter.  On SIGUSR2 the
 * process checks its own state and prints
 *     "PASS sigusr1=<n> last=<N>"   (exit 0)   or
 *     "FAIL: <reason>"              (exit 1).
 *
 * What a broken restore would break here:
 *  - the file content must be exactly 0..N: a lost or replayed write (fd
 *    offset / O_APPEND not restored, process rolled back) shows as a gap or
 *    a repeat;
 *  - the kept fd must still point at the same inode with O_APPEND;
 *  - heap chunks (brk and mmap'd ones) must keep their contents, and the
 *    allocator must still be able to grow the heap after restore;
 *  - the 10 ms nanosleep is relative: if the restart of an interrupted
 *    sleep is broken the process stops ticking and "last" stops moving.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RING 64

static volatile sig_atomic_t usr1_count;
static volatile sig_atomic_t check_requested;

static void on_usr1(int sig) { (void)sig; usr1_count++; }
static void on_usr2(int sig) { (void)sig; check_requested = 1; }

/* One live allocation; its content is a function of the tick that made it,
 * so it can be verified without keeping a copy. */
struct slot {
    unsigned char *p;
    size_t len;
    unsigned long tick;
};
static struct slot ring[RING];

static unsigned char pattern_byte(unsigned long tick, size_t i)
{
    return (unsigned char)(tick * 131 + i * 7 + (i >> 8));
}

/* Mostly small chunks (brk heap), every 16th tick a 200 KiB one, which is
 * above glibc's mmap threshold and so lives in its own mapping. */
static size_t size_for(unsigned long tick)
{
    if (tick % 16 == 5)
        return 200 * 1024;
    return 16 + (tick * 7919) % 8192;
}

static int slot_ok(const struct slot *s)
{
    for (size_t i = 0; i < s->len; i++)
        if (s->p[i] != pattern_byte(s->tick, i))
            return 0;
    return 1;
}

static char fail_msg[256];   /* first error seen while running, if any */

static void churn(unsigned long tick)
{
    struct slot *s = &ring[tick % RING];
    if (s->p) {
        if (!slot_ok(s) && !fail_msg[0])
            snprintf(fail_msg, sizeof fail_msg,
                     "heap buffer of tick %lu corrupted before free", s->tick);
        free(s->p);
    }
    s->len = size_for(tick);
    s->tick = tick;
    s->p = malloc(s->len);
    if (!s->p) {
        snprintf(fail_msg, sizeof fail_msg, "malloc(%zu) failed", s->len);
        s->len = 0;
        return;
    }
    for (size_t i = 0; i < s->len; i++)
        s->p[i] = pattern_byte(tick, i);
}

/* Relative 10 ms sleep; resumes the remainder after a signal so SIGUSR1
 * storms do not speed the counter up, but returns early for SIGUSR2. */
static void sleep_10ms(void)
{
    struct timespec req = { 0, 10 * 1000 * 1000 }, rem;
    while (nanosleep(&req, &rem) == -1 && errno == EINTR && !check_requested)
        req = rem;
}

/* The file must hold exactly "0\n1\n...\n<last>\n". */
static int check_file(const char *path, unsigned long last, char *why, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, n, "cannot reopen %s: %s", path, strerror(errno));
        return 0;
    }
    char line[64];
    unsigned long expect = 0;
    int ok = 1;
    while (fgets(line, sizeof line, f)) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(line, &end, 10);
        if (errno || end == line || *end != '\n') {
            snprintf(why, n, "malformed line %lu: '%.20s'", expect, line);
            ok = 0;
            break;
        }
        if (v != expect) {
            snprintf(why, n, "line %lu holds %lu (gap or repeat)", expect, v);
            ok = 0;
            break;
        }
        expect++;
    }
    fclose(f);
    if (ok && expect != last + 1) {
        snprintf(why, n, "file ends at %lu lines, expected %lu", expect, last + 1);
        ok = 0;
    }
    return ok;
}

/* Heap growth after restore: 64 MiB goes through mmap, 16 MiB of small
 * chunks must extend the brk heap.  Touch every page so the kernel really
 * has to back it. */
static int check_heap_growth(char *why, size_t n)
{
    size_t big = 64UL << 20;
    char *p = malloc(big);
    if (!p) {
        snprintf(why, n, "malloc(64 MiB) failed");
        return 0;
    }
    for (size_t i = 0; i < big; i += 4096)
        p[i] = (char)i;
    free(p);

    enum { NSMALL = 4096, SMALL = 4000 };
    static char *small[NSMALL];
    int ok = 1;
    for (int i = 0; i < NSMALL; i++) {
        small[i] = malloc(SMALL);
        if (!small[i]) {
            snprintf(why, n, "small malloc #%d failed", i);
            ok = 0;
            break;
        }
        memset(small[i], i & 0xff, SMALL);
    }
    for (int i = 0; i < NSMALL && small[i]; i++) {
        if (ok && (unsigned char)small[i][SMALL - 1] != (i & 0xff)) {
            snprintf(why, n, "small chunk #%d lost its content", i);
            ok = 0;
        }
        free(small[i]);
        small[i] = NULL;
    }
    return ok;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <output-file>\n", argv[0]);
        return 2;
    }
    const char *path = argv[1];
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* No SA_RESTART: we want nanosleep to see EINTR for SIGUSR2. */
    struct sigaction sa = { 0 };
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);

    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) {
        printf("FAIL: open %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct stat st0;
    fstat(fd, &st0);

    printf("ready\n");

    unsigned long next = 0;     /* next integer to append */
    for (unsigned long tick = 0; !check_requested; tick++) {
        char buf[32];
        int len = snprintf(buf, sizeof buf, "%lu\n", next);
        ssize_t w = write(fd, buf, len);
        if (w == len)
            next++;
        else if (!fail_msg[0])
            snprintf(fail_msg, sizeof fail_msg, "write returned %zd: %s",
                     w, w < 0 ? strerror(errno) : "short write");
        churn(tick);
        sleep_10ms();
    }

    char why[256] = "";
    int ok = 1;
    if (fail_msg[0]) {
        snprintf(why, sizeof why, "%s", fail_msg);
        ok = 0;
    }
    if (ok && next == 0) {
        snprintf(why, sizeof why, "nothing was written");
        ok = 0;
    }
    for (int i = 0; ok && i < RING; i++)
        if (ring[i].p && !slot_ok(&ring[i])) {
            snprintf(why, sizeof why, "heap buffer of tick %lu corrupted",
                     ring[i].tick);
            ok = 0;
        }
    /* The fd kept open since start must still be the same file, in
     * append mode, write-only. */
    struct stat st1;
    int fl = fcntl(fd, F_GETFL);
    if (ok && (fstat(fd, &st1) || st1.st_ino != st0.st_ino ||
               st1.st_dev != st0.st_dev)) {
        snprintf(why, sizeof why, "fd %d no longer refers to %s", fd, path);
        ok = 0;
    }
    if (ok && (fl < 0 || !(fl & O_APPEND) || (fl & O_ACCMODE) != O_WRONLY)) {
        snprintf(why, sizeof why, "fd flags changed: 0%o", fl);
        ok = 0;
    }
    if (ok)
        ok = check_heap_growth(why, sizeof why);
    if (ok)
        ok = check_file(path, next - 1, why, sizeof why);

    for (int i = 0; i < RING; i++)
        free(ring[i].p);
    close(fd);

    if (!ok) {
        printf("FAIL: %s\n", why);
        return 1;
    }
    printf("PASS sigusr1=%d last=%lu\n", (int)usr1_count, next - 1);
    return 0;
}
