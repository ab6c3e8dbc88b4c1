/*
 * A process whose main thread has exited (pthread_exit in main, zdtm's pthread02) while two others
 * run on: its leader shows as a zombie, but the process is alive. One thread counts; the other
 * prints "ready" once the leader is a zombie, then waits for SIGUSR2 (blocked in every thread, taken
 * by sigwait) and checks that the counter moves on, that both threads kept their tids, that the
 * leader is still an exited zombie and the process has three threads, and that a mutex the counter
 * takes works; then prints PASS or FAIL. With "fs" the checker first takes a cwd of its own
 * (unshare(CLONE_FS), chdir /usr) and checks it kept it, the counter not; with "uts" it unshares a uts
 * namespace (which cryo refuses in such a process).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile long ticks;
static volatile pid_t counterTid;
static int ownFs, ownUts;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static char leaderState(void) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", getpid());
    FILE *f = fopen(path, "r");
    if (!f || !fgets(buf, sizeof buf, f)) {
        if (f) fclose(f);
        return '?';
    }
    fclose(f);
    char *p = strrchr(buf, ')');
    return p ? p[2] : '?';
}

static int threadCount(void) {
    char path[64], line[256];
    int n = -1;
    snprintf(path, sizeof path, "/proc/%d/task/%d/status", getpid(), gettid());
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        sscanf(line, "Threads: %d", &n);
    }
    if (f) fclose(f);
    return n;
}

static void *counter(void *arg) {
    (void) arg;
    counterTid = gettid();
    for (;;) {
        pthread_mutex_lock(&lock);
        ticks++;
        pthread_mutex_unlock(&lock);
        usleep(1000);
    }
    return NULL;
}

static void *checker(void *arg) {
    sigset_t *usr2 = arg;
    pid_t self = gettid();
    if (ownUts && unshare(CLONE_NEWUTS) != 0) {
        printf("FAIL: unshare(CLONE_NEWUTS)\n");
        return NULL;
    }
    if (ownFs && (unshare(CLONE_FS) != 0 || chdir("/usr") != 0)) {
        printf("FAIL: unshare(CLONE_FS), chdir /usr\n");
        return NULL;
    }
    while (leaderState() != 'Z' || counterTid == 0) {
        usleep(1000);
    }
    printf("ready\n");
    int sig;
    sigwait(usr2, &sig);
    long before = ticks;
    for (int i = 0; i < 5000 && ticks == before; i++) {
        usleep(1000);
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d", getpid(), counterTid);
    int counterThere = access(path, F_OK) == 0;
    char state = leaderState();
    int threads = threadCount();
    int locked = pthread_mutex_lock(&lock) == 0 && pthread_mutex_unlock(&lock) == 0;
    char cwd[256] = "", counterCwd[256] = "";
    snprintf(path, sizeof path, "/proc/%d/task/%d/cwd", getpid(), counterTid);
    ssize_t n = readlink(path, counterCwd, sizeof counterCwd - 1);
    counterCwd[n > 0 ? n : 0] = 0;
    if (ownFs && (!getcwd(cwd, sizeof cwd) || strcmp(cwd, "/usr") != 0 || strcmp(counterCwd, "/usr") == 0)) {
        printf("FAIL cwd %s, the counter's %s\n", cwd, counterCwd);
    } else if (ticks != before && counterThere && self == gettid() && state == 'Z' && threads == 3 && locked) {
        printf("PASS\n");
    } else {
        printf("FAIL ticks %ld->%ld counter there %d leader %c threads %d locked %d\n", before, ticks, counterThere,
               state, threads, locked);
    }
    for (;;) {
        pause();
    }
    return NULL;
}

int main(int argc, char **argv) {
    ownFs = argc > 1 && strcmp(argv[1], "fs") == 0;
    ownUts = argc > 1 && strcmp(argv[1], "uts") == 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    static sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &usr2, NULL); /* inherited by both threads */
    pthread_t t;
    pthread_create(&t, NULL, counter, NULL);
    pthread_create(&t, NULL, checker, &usr2);
    pthread_exit(NULL);
}
