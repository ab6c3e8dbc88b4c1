/*
 * coveredtmpfs BOX — in a mount namespace of its own (`unshare -m`), BOX holds two tmpfs mounts:
 * the first with a file "under", covered by a second mounted on the same point with a file "over"
 * (the test's shell made both before exec'ing this; zdtm's mapfile_priv mounts its own /tmp over
 * its container's). A dump must read the covered tmpfs's files too: they were refused ("covered by
 * a later mount on the same point: its files cannot be read").
 *
 * On SIGUSR2 checks: BOX shows the second tmpfs (over, no under); once that is unmounted, BOX
 * shows the first one with its file. Prints "PASS" or "FAIL: <reason>".
 *
 * coveredtmpfs BOX LID — LID, a directory above BOX, is covered too by a mount without BOX's
 * directory, so that no path reaches BOX (firejail binds /dev, with the host's stacked /dev/shm
 * mounts, on /run/firejail/mnt/dev, then a read-only directory over that): the dump refused it
 * ('umount2(BOX, MNT_DETACH): ENOENT'). The check takes LID's cover off first.
 *
 * coveredtmpfs BOX LID FILE — FILE in LID is also a bind of the covering tmpfs's file "over", which
 * the cover hides too (firejail's /etc/machine-id, a file of its tmpfs, under its tmpfs on /etc):
 * the dump refused it ('cannot be seen (/proc/self/fd/N/.: Not a directory)').
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>
#include "workload.h"
#include "fileholds.h"

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc < 2)
        fail("usage: coveredtmpfs BOX");
    if (argc > 2 ? access(argv[1], F_OK) == 0
                 : !reads(argv[1], "over", "over\n") || reads(argv[1], "under", "under\n"))
        fail("set up: BOX does not show the covering tmpfs, or LID does not hide it");
    printf("ready\n");
    while (!check)
        pause();
    if (argc > 2 && access(argv[1], F_OK) == 0)
        fail("BOX shows through LID's cover");
    if (argc > 2 && umount2(argv[2], 0))
        fail("unmount LID's cover");
    if (argc > 3 && !reads(argv[2], argv[3], "over\n"))
        fail("LID's file bound from the covering tmpfs's file");
    if (!reads(argv[1], "over", "over\n"))
        fail("the covering tmpfs's file");
    if (reads(argv[1], "under", "under\n"))
        fail("the covered tmpfs's file shows through the covering one");
    if (umount2(argv[1], 0))
        fail("unmount the covering tmpfs");
    if (!reads(argv[1], "under", "under\n"))
        fail("the covered tmpfs came back without its file");
    if (reads(argv[1], "over", "over\n"))
        fail("the covering tmpfs's file is in the covered one");
    printf("PASS\n");
    return 0;
}
