/*
 * Per-mapping advice and locks (smaps VmFlags): areas with MADV_HUGEPAGE (hg, 4 MiB aligned to
 * 2 MiB so transparent huge pages can back it), MADV_NOHUGEPAGE (nh), MADV_DONTFORK (dc),
 * MADV_WIPEONFORK (wf), MADV_DONTDUMP (dd), MADV_SEQUENTIAL (sr), MADV_RANDOM (rr), mlock (lo), mlock2(MLOCK_ONFAULT) (lo lf), each
 * filled with its own pattern; and a guard area, written once then emptied and made inaccessible,
 * that stays charged for writing (ac) with no page in it, like a JVM's stack guard zone. On SIGUSR2 checks every pattern, that smaps still shows each
 * area's flags, and that the advice still works: a child forked now sees zeros in the
 * wipe-on-fork area and dies of SIGSEGV touching the dont-fork area.
 * Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workload.h"

#define PG 4096
#define MB (1024 * 1024)

struct area { const char *name; size_t len; int advice; const char *flags; unsigned char *at; };

static struct area areas[] = {
    {"hugepage", 4 * MB, MADV_HUGEPAGE, "hg", 0},
    {"nohugepage", 8 * PG, MADV_NOHUGEPAGE, "nh", 0},
    {"dontfork", 4 * PG, MADV_DONTFORK, "dc", 0},
    {"wipeonfork", 4 * PG, MADV_WIPEONFORK, "wf", 0},
    {"dontdump", 4 * PG, MADV_DONTDUMP, "dd", 0},
    {"sequential", 4 * PG, MADV_SEQUENTIAL, "sr", 0},
    {"random", 4 * PG, MADV_RANDOM, "rr", 0},
    {"locked", 4 * PG, -1, "lo", 0},
    {"lockonfault", 4 * PG, -2, "lf", 0},
    {"guard", 2 * PG, -3, "ac", 0},
};
#define AREAS (int)(sizeof areas / sizeof areas[0])

static unsigned char gen(int a, size_t i) { return (unsigned char)(a * 29 + i * 13 + 5); }

/* lock-on-fault: the second half is never touched, so never locked in; the guard holds nothing */
static size_t filled(int a) {
    return areas[a].advice == -3 ? 0 : areas[a].advice == -2 ? areas[a].len / 2 : areas[a].len;
}

static int verify(int a) {
    if (areas[a].advice == -3) return 1; /* inaccessible */
    for (size_t i = 0; i < areas[a].len; i += 509)
        if (areas[a].at[i] != (i < filled(a) ? gen(a, i) : 0)) return 0;
    return 1;
}

/* the VmFlags line of the area starting at addr */
static int smaps_flags(void *addr, char *out, size_t n) {
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return 0;
    char line[512];
    int in = 0, found = 0;
    unsigned long want = (unsigned long)addr;
    while (fgets(line, sizeof line, f)) {
        unsigned long s, e;
        if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, ' ') && line[0] != 'V') in = (s == want);
        else if (in && !strncmp(line, "VmFlags:", 8)) {
            snprintf(out, n, "%s", line + 8);
            found = 1;
            break;
        }
    }
    fclose(f);
    return found;
}

static int has_flag(const char *flags, const char *f) {
    char pat[8];
    snprintf(pat, sizeof pat, " %s", f);
    const char *p = flags;
    while ((p = strstr(p, pat))) {
        if (p[3] == ' ' || p[3] == '\n' || p[3] == 0) return 1;
        p++;
    }
    return 0;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    for (int a = 0; a < AREAS; a++) {
        size_t len = areas[a].len;
        /* reserve extra room so the huge page area can start on a 2 MiB boundary; a guard page
         * around each area keeps the kernel from merging neighbours */
        unsigned char *r = mmap(NULL, len + 2 * MB + 2 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (r == MAP_FAILED) fail("mmap");
        unsigned char *at = (unsigned char *)(((uintptr_t)r + PG + 2 * MB - 1) & ~(uintptr_t)(2 * MB - 1));
        if (mprotect(at, len, PROT_READ | PROT_WRITE)) fail("mprotect");
        areas[a].at = at;
        if (areas[a].advice >= 0 && madvise(at, len, areas[a].advice)) fail(areas[a].name);
        if (areas[a].advice == -1 && mlock(at, len)) fail("mlock");
        if (areas[a].advice == -2 && syscall(SYS_mlock2, at, len, 1 /* MLOCK_ONFAULT */)) fail("mlock2");
        for (size_t i = 0; i < filled(a); i++) at[i] = gen(a, i);
        if (areas[a].advice == -3) {
            at[0] = 1; /* the area gets its anon_vma, so PROT_NONE keeps the charge */
            if (madvise(at, len, MADV_DONTNEED) || mprotect(at, len, PROT_NONE)) fail("guard");
        }
    }
    printf("ready\n");
    while (!check) pause();

    char flags[512];
    for (int a = 0; a < AREAS; a++) {
        if (!verify(a)) { printf("FAIL: the %s area lost its contents\n", areas[a].name); return 1; }
        if (!smaps_flags(areas[a].at, flags, sizeof flags)) { printf("FAIL: no smaps entry for %s\n", areas[a].name); return 1; }
        if (!has_flag(flags, areas[a].flags) || (areas[a].advice == -2 && !has_flag(flags, "lo"))
                || (areas[a].advice == -3 && has_flag(flags, "rd"))) {
            printf("FAIL: the %s area lost its VmFlags %s:%s", areas[a].name, areas[a].flags, flags);
            return 1;
        }
    }
    pid_t c = fork();
    if (c == 0) {
        for (size_t i = 0; i < areas[3].len; i++)
            if (areas[3].at[i]) _exit(2);
        _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail("the wipe-on-fork area was not wiped in a child");
    c = fork();
    if (c == 0) {
        signal(SIGSEGV, SIG_DFL);
        volatile unsigned char x = areas[2].at[0];
        (void)x;
        _exit(0);
    }
    waitpid(c, &st, 0);
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSEGV) fail("the dont-fork area was inherited by a child");
    printf("PASS areas=%d\n", AREAS);
    return 0;
}
