/*
 * A thread that unshared something for itself alone, as Samba's worker threads take a cwd each
 * (unshare(CLONE_FS), chdir) and Go programs a namespace on a locked OS thread. "cwd": the thread
 * unshares its fs, enters /usr and sets umask 027; "root": it also chroots into /usr. On SIGUSR2 the
 * thread checks it still has them, then goes back to / (and umask 0) to show its fs is its own: the
 * main thread must keep its cwd (the test's directory) and umask 022. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include "workload.h"
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char *mode;
static volatile int set_up, verdict_ready;
static const char *thread_failure;
static struct stat usr;

static int same_dir(const char *path, const struct stat *want) {
    struct stat st;
    return stat(path, &st) == 0 && st.st_dev == want->st_dev && st.st_ino == want->st_ino;
}

static void *alone(void *arg) {
    (void)arg;
    int root = strcmp(mode, "root") == 0;
    if (unshare(CLONE_FS) != 0) fail("unshare(CLONE_FS)");
    if (chdir("/usr") != 0) fail("chdir /usr");
    if (root && chroot("/usr") != 0) fail("chroot /usr");
    umask(027);
    set_up = 1;
    struct timespec nap = {0, 10000000};
    while (!check) nanosleep(&nap, NULL);
    mode_t mask = umask(0);
    if (mask != 027) thread_failure = "the thread's umask is not 027";
    else if (!same_dir(".", &usr)) thread_failure = "the thread's cwd is not /usr";
    else if (root && !same_dir("/", &usr)) thread_failure = "the thread's root is not /usr";
    else if (!root && !same_dir("/usr", &usr)) thread_failure = "the thread has a root of its own";
    else if (chdir("/") != 0) thread_failure = "chdir / in the thread";
    verdict_ready = 1;
    return NULL;
}

int main(int argc, char **argv) {
    mode = argc > 1 ? argv[1] : "cwd";
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    umask(022);
    struct stat here;
    if (stat("/usr", &usr) != 0 || stat(".", &here) != 0) fail("stat");
    if (same_dir(".", &usr)) fail("run it from another directory than /usr");
    pthread_t t;
    if (pthread_create(&t, NULL, alone, NULL) != 0) fail("pthread_create");
    while (!set_up) usleep(1000);
    printf("ready\n");
    while (!check) pause();
    while (!verdict_ready) usleep(1000);
    if (thread_failure) fail(thread_failure);
    mode_t mask = umask(022);
    if (mask != 022) fail("the main thread's umask is not 022");
    if (!same_dir(".", &here)) fail("the main thread's cwd moved with its thread's");
    if (!same_dir("/usr", &usr)) fail("the main thread's root moved with its thread's");
    printf("PASS\n");
    return 0;
}
