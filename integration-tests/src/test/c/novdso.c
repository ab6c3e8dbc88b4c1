/*
 * A task that unmapped its own [vdso], as valgrind does for the programs it runs: cryo cannot
 * inject through the vDSO's syscall instruction and must find one in the task's code, and the
 * restore must leave the vDSO unmapped. Counts with nanosleep (a real syscall: glibc's vDSO
 * pointers are dead); on SIGUSR2 checks there is still no [vdso], [vvar] is where it was and the
 * counter moves. With "all", it unmaps [vvar] and [vvar_vclock] too (zdtm's vdso02, a kernel booted
 * with vdso=0): none of them may come back. Prints PASS or FAIL: reason.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t check;
static volatile unsigned long count;
static void on_usr2(int sig) { (void)sig; check = 1; }
static void fail(const char *why) { printf("FAIL: %s\n", why); exit(1); }

/* The start of the area named name in /proc/self/maps, or 0. */
static unsigned long area(const char *name, unsigned long *end) {
    char line[512];
    unsigned long lo = 0, hi = 0, found = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, name) && sscanf(line, "%lx-%lx", &lo, &hi) == 2) { found = lo; if (end) *end = hi; break; }
    if (f) fclose(f);
    return found;
}

int main(int argc, char **argv) {
    int all = argc > 1 && strcmp(argv[1], "all") == 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    unsigned long end = 0, vdso = area("[vdso]", &end), vvar = area("[vvar]", NULL);
    if (!vdso || !vvar) fail("no [vdso] or [vvar] to start with");
    if (munmap((void *)vdso, end - vdso) != 0) fail("munmap [vdso]");
    if (all) {
        const char *names[] = {"[vvar]", "[vvar_vclock]"};
        for (int i = 0; i < 2; i++) {
            unsigned long e = 0, a = area(names[i], &e);
            if (a && munmap((void *)a, e - a) != 0) fail("munmap of a [vvar] area");
        }
    }
    printf("ready\n");
    struct timespec nap = {0, 5000000};
    while (!check) { count++; nanosleep(&nap, NULL); }
    if (area("[vdso]", NULL)) fail("a [vdso] is mapped again");
    if (all ? area("[vvar", NULL) != 0 : area("[vvar]", NULL) != vvar) fail(all ? "a [vvar] is mapped again" : "[vvar] moved");
    unsigned long before = count;
    for (int i = 0; i < 10; i++) { count++; nanosleep(&nap, NULL); }
    if (count != before + 10) fail("the counter does not move");
    printf("PASS count=%lu\n", count);
    return 0;
}
