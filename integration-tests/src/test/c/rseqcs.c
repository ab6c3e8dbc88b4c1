/*
 * Two threads (main and a worker) that spend nearly all their time inside an rseq critical
 * section (a long spin between announcing the section in their glibc rseq area and its end). At
 * the end of each pass, still inside the section, a thread looks at its rseq_cs: the kernel clears
 * it only on the way to the abort handler, so finding it cleared there means the thread was
 * stopped inside and let go (or restored) without being sent to the abort handler: a per-CPU
 * commit would land unchecked. After a dump the threads were almost surely stopped inside: they
 * must come back through the abort handler. On SIGUSR2 each thread stops; prints PASS with the
 * counts, or FAIL: reason.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
#include <sys/rseq.h>
#include <unistd.h>
#include "workload.h"

struct counts {
    volatile long passes, aborts, unchecked;
} __attribute__((aligned(64)));

static struct counts counts[2];

static struct rseq *own_area(void) {
    char *tp;
    __asm__("mov %%fs:0, %0" : "=r"(tp));
    return (struct rseq *)(tp + __rseq_offset);
}

/* One pass; 0 done, 1 aborted, 2 ran to its end with rseq_cs cleared. */
static int pass_once(struct rseq *rs) {
    __asm__ __volatile__ goto(
        ".pushsection __rseq_cs, \"aw\"\n\t"
        ".balign 32\n\t"
        "9:\n\t"
        ".long 0, 0\n\t"
        ".quad 6f, (7f - 6f), 8f\n\t"
        ".popsection\n\t"
        "leaq 9b(%%rip), %%rax\n\t"
        "movq %%rax, %[cs]\n\t"
        "6:\n\t"
        "movl $2000000, %%ecx\n\t"
        "5:\n\t"
        "decl %%ecx\n\t"
        "jnz 5b\n\t"
        "cmpq $0, %[cs]\n\t"
        "je %l[cleared]\n\t"
        "7:\n\t"
        ".pushsection __rseq_failure, \"ax\"\n\t"
        ".byte 0x0f, 0xb9, 0x3d\n\t"
        ".long %c[sig]\n\t"
        "8:\n\t"
        "jmp %l[aborted]\n\t"
        ".popsection\n\t"
        :
        : [cs] "m"(rs->rseq_cs), [sig] "i"(RSEQ_SIG)
        : "memory", "cc", "rax", "rcx"
        : aborted, cleared);
    return 0;
aborted:
    return 1;
cleared:
    return 2;
}

static void run(struct counts *c) {
    struct rseq *rs = own_area();
    while (!check) {
        switch (pass_once(rs)) {
        case 0: c->passes++; break;
        case 1: c->aborts++; break;
        default: c->unchecked++; break;
        }
    }
}

static void *worker(void *arg) {
    (void)arg;
    run(&counts[1]);
    return NULL;
}

int main(void) {
    pthread_t t;
    signal(SIGUSR2, on_usr2);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (__rseq_size == 0)
        fail("glibc registered no rseq area");
    if (pthread_create(&t, NULL, worker, NULL))
        fail("pthread_create");
    while (counts[1].passes + counts[1].aborts == 0)
        usleep(1000);
    printf("ready\n");
    run(&counts[0]);
    pthread_join(t, NULL);
    for (int i = 0; i < 2; i++) {
        if (counts[i].unchecked) {
            printf("FAIL: thread %d ran %ld section(s) to their end with rseq_cs cleared (not aborted)\n", i,
                   counts[i].unchecked);
            return 1;
        }
    }
    printf("PASS passes=%ld/%ld aborts=%ld/%ld\n", counts[0].passes, counts[1].passes, counts[0].aborts,
           counts[1].aborts);
    return 0;
}
