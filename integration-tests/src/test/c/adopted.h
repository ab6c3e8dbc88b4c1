/*
 * For workloads whose parent matters: DetachedProcess starts them through `sh -c 'setsid prog &'`,
 * and that shell exits right after. Waits (at most 30 s) until the parent is no longer that shell,
 * so what the workload does with its parent (a pidfd of it, a parent-death signal) meets the
 * process that adopted it, not a shell about to go (a flake under load).
 */
#ifndef CRYO_ADOPTED_H
#define CRYO_ADOPTED_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int parent_is_shell(void) {
    char path[64], comm[32] = "";
    snprintf(path, sizeof path, "/proc/%d/comm", (int)getppid());
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int shell = fgets(comm, sizeof comm, f) && strcmp(comm, "sh\n") == 0;
    fclose(f);
    return shell;
}

__attribute__((unused)) static void await_adopted(void) {
    for (int i = 0; i < 30000 && parent_is_shell(); i++) usleep(1000);
}

#endif
