/*
 * Pipe buffer sizes (F_SETPIPE_SZ) as programs set them: an empty pipe grown to 256 KiB, a pipe
 * shrunk to one page holding a few bytes, and a FIFO (in the directory given) grown to 128 KiB.
 * On SIGUSR2 checks each size with F_GETPIPE_SZ and the bytes. zdtm's pipe03 found an empty pipe
 * coming back with the default 64 KiB. Prints PASS or FAIL: reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) fail("usage: pipesize DIR");
    signal(SIGUSR2, on_usr2);
    int big[2], small[2];
    if (pipe(big) || pipe(small)) fail("pipe");
    if (fcntl(big[1], F_SETPIPE_SZ, 256 * 1024) < 0) fail("F_SETPIPE_SZ 256 KiB");
    if (fcntl(small[1], F_SETPIPE_SZ, 4096) < 0) fail("F_SETPIPE_SZ 4 KiB");
    if (write(small[1], "hello", 5) != 5) fail("write");
    char fifo[4096];
    snprintf(fifo, sizeof fifo, "%s/fifo", argv[1]);
    if (mkfifo(fifo, 0600)) fail("mkfifo");
    int f = open(fifo, O_RDWR);
    if (f < 0 || fcntl(f, F_SETPIPE_SZ, 128 * 1024) < 0) fail("fifo F_SETPIPE_SZ");
    printf("ready\n");
    while (!check) pause();

    if (fcntl(big[0], F_GETPIPE_SZ) != 256 * 1024) { printf("FAIL: empty pipe size %d\n", fcntl(big[0], F_GETPIPE_SZ)); return 1; }
    if (fcntl(small[0], F_GETPIPE_SZ) != 4096) { printf("FAIL: small pipe size %d\n", fcntl(small[0], F_GETPIPE_SZ)); return 1; }
    if (fcntl(f, F_GETPIPE_SZ) != 128 * 1024) { printf("FAIL: fifo size %d\n", fcntl(f, F_GETPIPE_SZ)); return 1; }
    char buf[8] = {0};
    if (read(small[0], buf, 5) != 5 || memcmp(buf, "hello", 5)) fail("the small pipe lost its bytes");
    printf("PASS\n");
    return 0;
}
