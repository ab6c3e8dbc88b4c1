/*
 * exitmutex — a task that, killed, cannot die until another process lets it. "exitmutex tree" makes a pipe and a TCP
 * listener on 127.0.0.1, prints "ready <port> <pipe's write fd>" and sleeps. "exitmutex hold PID FD" opens that pipe
 * (/proc/PID/fd/FD) and writes it a page from a userfaultfd area nobody serves: the write faults holding the pipe's
 * mutex (pipe_write copies under it). It prints "holding <its pid>" once the fault is there and sleeps until killed, which ends
 * the fault and frees the mutex. A tree killed meanwhile sleeps in D in its exit (closing the pipe waits for the mutex).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include "unservedfault.h"

static _Noreturn void tree(void)
{
    int p[2], l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (pipe(p) || l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 4)
            || getsockname(l, (struct sockaddr *)&a, &len))
        fail("pipe or listener");
    printf("ready %d %d\n", ntohs(a.sin_port), p[1]);
    for (;;)
        pause();
}

static _Noreturn void hold(const char *pid, const char *fd)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/fd/%s", pid, fd);
    int out = open(path, O_WRONLY);
    if (out < 0)
        fail("open the pipe");
    pthread_t t;
    fault_unserved(out, &t);
    printf("holding %d\n", getpid());
    for (;;)
        pause();
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 2 && !strcmp(argv[1], "tree"))
        tree();
    if (argc == 4 && !strcmp(argv[1], "hold"))
        hold(argv[2], argv[3]);
    fprintf(stderr, "usage: exitmutex tree | exitmutex hold PID FD\n");
    return 2;
}
