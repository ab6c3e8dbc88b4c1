/*
 * overmountsock DIR — run in a mount namespace of its own (`unshare -m`): in DIR, binds a stream listener to the
 * relative name "d/sock", a child connects and sends "ping", the accepted end keeps the name, the listener is closed,
 * and a tmpfs is mounted on d (zdtm's overmount_sock): the socket's file is now under that mount. On SIGUSR2: the
 * accepted end reads "ping" and still names "d/sock"; the tmpfs can be unmounted (the restored socket must not pin
 * it), the socket file is then there again, a socket, and can be removed; the child gets "pong" and exits 0.
 * Prints "PASS" or "FAIL: <reason>".
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include "workload.h"

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR2, on_usr2);
    if (argc != 2 || chdir(argv[1]) || mkdir("d", 0700))
        fail("usage: overmountsock DIR (an empty directory)");
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, "d/sock");
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1))
        fail("bind d/sock");
    pid_t child = fork();
    if (child == 0) {
        close(l);
        int c = socket(AF_UNIX, SOCK_STREAM, 0);
        char buf[4];
        if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a) || write(c, "ping", 4) != 4)
            _exit(2);
        if (read(c, buf, 4) != 4 || memcmp(buf, "pong", 4))
            _exit(3);
        _exit(0);
    }
    int s = accept(l, NULL, NULL);
    if (s < 0)
        fail("accept");
    close(l);
    if (mount("cryo-over", "d", "tmpfs", 0, "size=1m"))
        fail("mount a tmpfs on d");
    printf("ready\n");
    while (!check)
        pause();
    char buf[4];
    struct sockaddr_un n;
    socklen_t len = sizeof n;
    if (read(s, buf, 4) != 4 || memcmp(buf, "ping", 4))
        fail("the accepted end's bytes");
    if (getsockname(s, (struct sockaddr *)&n, &len) || strcmp(n.sun_path, "d/sock"))
        fail("the accepted end's name");
    if (umount("d"))
        fail("umount the tmpfs over d");
    struct stat st;
    if (stat("d/sock", &st) || !S_ISSOCK(st.st_mode))
        fail("the socket file under the tmpfs");
    if (unlink("d/sock"))
        fail("unlink the socket file");
    int status;
    if (write(s, "pong", 4) != 4 || waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
        fail("the child's connection");
    printf("PASS\n");
    return 0;
}
