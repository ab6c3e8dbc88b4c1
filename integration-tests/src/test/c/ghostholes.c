/*
 * A deleted file with holes: 5 blocks of 4 KiB, data in blocks 1 and 3, holes at the head, in the
 * middle and at the tail (zdtm's ghost_holes00-02 found them filled: a recreated ghost was written
 * whole, so SEEK_HOLE found no hole). Also a block of written zeros, which is data and must stay
 * data. Argument: the directory for the file. On SIGUSR2: same size, same bytes, holes and data
 * where they were. Prints PASS (or "PASS noholes" where the filesystem keeps no holes) or FAIL.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workload.h"

#define B 4096

static unsigned char block(int i, int j) {
    return (unsigned char)(i * 31 + j * 7 + 1) | 1; /* never 0: a data block has no zero byte */
}

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: ghostholes DIR");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    char path[4096], buf[B];
    snprintf(path, sizeof path, "%s/ghost-holes", argv[1]);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0640);
    if (fd < 0 || unlink(path)) fail("open/unlink");
    for (int i = 1; i <= 3; i += 2) {
        for (int j = 0; j < B; j++) buf[j] = block(i, j);
        if (pwrite(fd, buf, B, (off_t)i * B) != B) fail("pwrite");
    }
    memset(buf, 0, B);
    if (pwrite(fd, buf, B, 5 * B) != B) fail("pwrite zeros"); /* block 5: written zeros */
    if (ftruncate(fd, 7 * B)) fail("ftruncate");               /* block 6: a tail hole */
    int holes = lseek(fd, 0, SEEK_HOLE) == 0;
    printf("ready\n");
    while (!check) pause();

    struct stat st;
    if (fstat(fd, &st) || st.st_size != 7 * B) fail("size changed");
    for (int i = 0; i < 7; i++) {
        if (pread(fd, buf, B, (off_t)i * B) != B) fail("pread");
        for (int j = 0; j < B; j++) {
            unsigned char want = (i == 1 || i == 3) ? block(i, j) : 0;
            if ((unsigned char)buf[j] != want) fail("contents changed");
        }
    }
    if (!holes) {
        printf("PASS noholes\n");
        return 0;
    }
    if (lseek(fd, 0, SEEK_HOLE) != 0) fail("the head hole is gone");
    if (lseek(fd, 0, SEEK_DATA) != B) fail("the first data block moved");
    if (lseek(fd, B, SEEK_HOLE) != 2 * B) fail("the middle hole is gone");
    if (lseek(fd, 2 * B, SEEK_DATA) != 3 * B) fail("the second data block moved");
    if (lseek(fd, 3 * B, SEEK_HOLE) != 4 * B) fail("the hole before the zeros is gone");
    if (lseek(fd, 4 * B, SEEK_DATA) != 5 * B) fail("the written zeros became a hole");
    if (lseek(fd, 5 * B, SEEK_HOLE) != 6 * B) fail("the tail hole is gone");
    printf("PASS\n");
    return 0;
}
