/*
 * Unix socket addresses for the socket-file workloads: a path under a directory, a check that a
 * socket still has the name it was bound to, and whether a connection or datagram is waiting.
 */
#ifndef CRYO_UNIXADDR_H
#define CRYO_UNIXADDR_H

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "workload.h"

/** DIR/NAME in {@code a}; returns the address's length. */
static socklen_t addr(struct sockaddr_un *a, const char *dir, const char *name) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    snprintf(a->sun_path, sizeof a->sun_path, "%s/%s", dir, name);
    return (socklen_t)(sizeof a->sun_family + strlen(a->sun_path) + 1);
}

/** Fails unless socket {@code s} is still bound to {@code want}. */
static void named(int s, struct sockaddr_un *want, socklen_t wl) {
    struct sockaddr_un got;
    socklen_t gl = sizeof got;
    memset(&got, 0, sizeof got);
    if (getsockname(s, (struct sockaddr *)&got, &gl) || gl != wl || memcmp(&got, want, wl)) fail("a name changed");
}

/** Whether something (a connection, a datagram) waits on {@code s} within {@code ms}. */
static int waiting(int s, int ms) {
    struct pollfd p = {.fd = s, .events = POLLIN};
    return poll(&p, 1, ms) == 1;
}

#endif
