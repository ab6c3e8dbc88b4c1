/*
 * threads — multi-threaded checkpoint/restore workload (zdtm style).
 * Build with -pthread.
 *
 * Usage: threads
 *
 * Four workers increment a shared counter and their own counter under one
 * mutex.  Workers 0 and 2 pace themselves with a 1 ms nanosleep, workers 1
 * and 3 wait on a condition variable that the main thread broadcasts every
 * 2 ms, so both plain sleeps and futex waits are in flight at dump time.
 * The main thread waits for SIGUSR2 with sigtimedwait (SIGUSR2 is blocked in
 * every thread, so only that call can take it).
 *
 * Prints "ready" once all workers have counted at least once.  On SIGUSR2:
 *  - shared counter == sum of per-thread counters (read under the mutex):
 *    a thread restored from a different moment than the others, or a lost
 *    mutex state, breaks this;
 *  - every worker still progresses over 200 ms (a thread left stuck in a
 *    futex or a sleep whose restart broke shows here);
 *  - every worker still has the TID it had at start, and its __thread
 *    counter (reached through the restored FS base) matches its slot;
 *  - /proc/self/task lists exactly main + 4 workers, each with its name.
 * Then prints "PASS shared=<n>" (exit 0) or "FAIL: <reason>" (exit 1).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NWORKERS 4

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tick_cv;          /* broadcast by main every 2 ms */
static unsigned long tick_gen;          /* guards against spurious wakeups */
static unsigned long shared_count;
static unsigned long per_thread[NWORKERS];
static int stop;

/* Report protocol: main bumps report_gen; each worker answers by filling
 * its slots and setting report_done[i] = report_gen. */
static unsigned long report_gen;
static unsigned long report_done[NWORKERS];
static pid_t tid_start[NWORKERS], tid_now[NWORKERS];
static int tls_ok[NWORKERS];

static __thread unsigned long my_count;   /* mirror of per_thread[i] in TLS */

static pid_t gettid_raw(void) { return (pid_t)syscall(SYS_gettid); }

static void *worker(void *arg)
{
    int id = (int)(long)arg;
    char name[16];
    snprintf(name, sizeof name, "worker-%d", id);
    pthread_setname_np(pthread_self(), name);

    pthread_mutex_lock(&lock);
    tid_start[id] = gettid_raw();
    pthread_mutex_unlock(&lock);

    for (;;) {
        pthread_mutex_lock(&lock);
        if (stop) {
            pthread_mutex_unlock(&lock);
            break;
        }
        shared_count++;
        per_thread[id]++;
        my_count++;
        if (report_done[id] != report_gen) {
            tid_now[id] = gettid_raw();
            tls_ok[id] = (my_count == per_thread[id]);
            report_done[id] = report_gen;
        }
        if (id % 2) {
            unsigned long gen = tick_gen;
            while (gen == tick_gen && !stop)
                pthread_cond_wait(&tick_cv, &lock);
            pthread_mutex_unlock(&lock);
        } else {
            pthread_mutex_unlock(&lock);
            struct timespec ts = { 0, 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

/* Waits up to ms for SIGUSR2 while keeping the condvar workers fed.
 * Returns 1 if SIGUSR2 arrived. */
static int wait_and_tick(const sigset_t *set, long ms)
{
    for (long waited = 0; waited < ms; waited += 2) {
        struct timespec ts = { 0, 2 * 1000 * 1000 };
        if (sigtimedwait(set, NULL, &ts) == SIGUSR2)
            return 1;
        pthread_mutex_lock(&lock);
        tick_gen++;
        pthread_cond_broadcast(&tick_cv);
        pthread_mutex_unlock(&lock);
    }
    return 0;
}

/* The kernel's view: exactly our 5 tasks, workers still carrying names. */
static int check_tasks(char *why, size_t n)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) {
        snprintf(why, n, "opendir /proc/self/task: %s", strerror(errno));
        return 0;
    }
    int count = 0, ok = 1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        count++;
        pid_t t = atoi(e->d_name);
        int known = (t == getpid());
        for (int i = 0; i < NWORKERS; i++)
            if (t == tid_start[i]) {
                char path[64], comm[32] = "", want[16];
                snprintf(path, sizeof path, "/proc/self/task/%d/comm", t);
                FILE *f = fopen(path, "r");
                if (f) {
                    if (!fgets(comm, sizeof comm, f))
                        comm[0] = 0;
                    fclose(f);
                }
                comm[strcspn(comm, "\n")] = 0;
                snprintf(want, sizeof want, "worker-%d", i);
                if (strcmp(comm, want) && ok) {
                    snprintf(why, n, "task %d is named '%s', expected '%s'",
                             t, comm, want);
                    ok = 0;
                }
                known = 1;
            }
        if (!known && ok) {
            snprintf(why, n, "unexpected task %d in /proc/self/task", t);
            ok = 0;
        }
    }
    closedir(d);
    if (ok && count != NWORKERS + 1) {
        snprintf(why, n, "%d tasks in /proc/self/task, expected %d",
                 count, NWORKERS + 1);
        ok = 0;
    }
    return ok;
}

static int check(const sigset_t *set, char *why, size_t n, unsigned long *total)
{
    unsigned long before[NWORKERS], after[NWORKERS], sum = 0;

    pthread_mutex_lock(&lock);
    for (int i = 0; i < NWORKERS; i++) {
        before[i] = per_thread[i];
        sum += per_thread[i];
    }
    unsigned long shared = shared_count;
    report_gen++;
    unsigned long gen = report_gen;
    pthread_mutex_unlock(&lock);
    if (shared != sum) {
        snprintf(why, n, "shared counter %lu != sum of per-thread %lu",
                 shared, sum);
        return 0;
    }

    /* 200 ms of normal running; every worker must move and answer. */
    wait_and_tick(set, 200);

    pthread_mutex_lock(&lock);
    int ok = 1;
    for (int i = 0; i < NWORKERS; i++)
        after[i] = per_thread[i];
    for (int i = 0; ok && i < NWORKERS; i++) {
        if (after[i] <= before[i]) {
            snprintf(why, n, "worker %d made no progress in 200 ms (%lu)",
                     i, after[i]);
            ok = 0;
        } else if (report_done[i] != gen) {
            snprintf(why, n, "worker %d did not answer the report", i);
            ok = 0;
        } else if (tid_now[i] != tid_start[i]) {
            snprintf(why, n, "worker %d tid changed %d -> %d", i,
                     tid_start[i], tid_now[i]);
            ok = 0;
        } else if (!tls_ok[i]) {
            snprintf(why, n, "worker %d TLS counter out of sync", i);
            ok = 0;
        }
    }
    *total = shared_count;
    sum = 0;
    for (int i = 0; i < NWORKERS; i++)
        sum += per_thread[i];
    if (ok && sum != shared_count) {
        snprintf(why, n, "shared counter %lu != sum of per-thread %lu",
                 shared_count, sum);
        ok = 0;
    }
    pthread_mutex_unlock(&lock);

    if (ok && gettid_raw() != getpid()) {
        snprintf(why, n, "main thread tid %d != pid %d", gettid_raw(), getpid());
        ok = 0;
    }
    if (ok)
        ok = check_tasks(why, n);
    return ok;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* Block SIGUSR2 before creating threads so they inherit the mask and
     * the signal can only be consumed by main's sigtimedwait. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    pthread_cond_init(&tick_cv, NULL);

    pthread_t th[NWORKERS];
    for (long i = 0; i < NWORKERS; i++)
        if (pthread_create(&th[i], NULL, worker, (void *)i)) {
            printf("FAIL: pthread_create\n");
            return 1;
        }

    /* "ready" only once every worker has counted at least once. */
    for (int all = 0; !all;) {
        wait_and_tick(&set, 2);
        pthread_mutex_lock(&lock);
        all = 1;
        for (int i = 0; i < NWORKERS; i++)
            if (!per_thread[i] || !tid_start[i])
                all = 0;
        pthread_mutex_unlock(&lock);
    }
    printf("ready\n");

    while (!wait_and_tick(&set, 1000))
        ;

    char why[256] = "";
    unsigned long total = 0;
    int ok = check(&set, why, sizeof why, &total);

    pthread_mutex_lock(&lock);
    stop = 1;
    pthread_cond_broadcast(&tick_cv);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < NWORKERS; i++)
        pthread_join(th[i], NULL);

    if (!ok) {
        printf("FAIL: %s\n", why);
        return 1;
    }
    printf("PASS shared=%lu\n", total);
    return 0;
}
