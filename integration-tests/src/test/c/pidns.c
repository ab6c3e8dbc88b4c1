/*
 * pidns — the init of a pid namespace of its own, with uts and ipc namespaces of its own too, as
 * `unshare --pid --fork --uts --ipc pidns` starts it (a container's init). It makes its session,
 * names its uts namespace, forks child 2 and child 3; child 3 forks grandchild 4 and exits, so 4
 * is an orphan this init reaps. Prints "ready" and waits.
 *
 * On SIGUSR2 checks: it is still pid 1 and its namespaces are not the host's; hostname and
 * domainname are as it set them; children 2 and 4, woken with SIGUSR1, report their own pid and
 * their parent as 2 and 1, 4 and 1 (the pids inside the namespace), exit, and this init reaps both
 * (the namespace's child reaper). Prints "PASS" or "FAIL: <reason>".
 *
 * With the argument "net" (under `unshare --net` too) it also brings its loopback device up at
 * the start, and checks that its net namespace is not the host's and that a UDP datagram it sends
 * to itself over 127.0.0.1 arrives (lo is up again).
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

/* the initial namespaces' fixed inodes (include/linux/proc_ns.h) */
#define INIT_UTS 0xEFFFFFFEUL
#define INIT_IPC 0xEFFFFFFFUL
#define INIT_PID 0xEFFFFFFCUL
#define INIT_NET 0xEFFFFFF9UL

static volatile sig_atomic_t check_requested, woken;

static void on_usr2(int sig) { (void)sig; check_requested = 1; }
static void on_usr1(int sig) { (void)sig; woken = 1; }

static void child(int out)
{
    while (!woken)
        pause();
    char line[64];
    int n = snprintf(line, sizeof line, "%d %d\n", getpid(), getppid());
    if (write(out, line, n) != n)
        _exit(1);
    _exit(7);
}

static int fail(const char *why)
{
    printf("FAIL: %s\n", why);
    fflush(stdout);
    return 1;
}

static int wake_and_reap(pid_t pid, int in, pid_t parent)
{
    char want[64], got[64] = {0};
    snprintf(want, sizeof want, "%d %d\n", pid, parent);
    if (kill(pid, SIGUSR1) != 0) {
        printf("FAIL: kill(%d): no such pid in the namespace\n", pid);
        return 1;
    }
    if (read(in, got, sizeof got - 1) <= 0)
        return fail("no report from a child");
    if (strcmp(want, got) != 0) {
        printf("FAIL: child %d reported '%s', expected '%s'\n", pid, got, want);
        return 1;
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 7) {
        printf("FAIL: could not reap %d\n", pid);
        return 1;
    }
    return 0;
}

static unsigned long ino(const char *kind)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/self/ns/%s", kind);
    return stat(path, &st) == 0 ? (unsigned long)st.st_ino : 0;
}

static int lo_up(void)
{
    struct ifreq r;
    memset(&r, 0, sizeof r);
    strcpy(r.ifr_name, "lo");
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &r))
        return -1;
    r.ifr_flags |= IFF_UP;
    int rc = ioctl(s, SIOCSIFFLAGS, &r);
    close(s);
    return rc;
}

/* a datagram to itself over 127.0.0.1 */
static int loopback_works(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    char got[8] = {0};
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || getsockname(s, (struct sockaddr *)&a, &len))
        return 0;
    struct timeval tv = {2, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int ok = sendto(s, "ping", 4, 0, (struct sockaddr *)&a, sizeof a) == 4 && recv(s, got, sizeof got, 0) == 4
             && strcmp(got, "ping") == 0;
    close(s);
    return ok;
}

int main(int argc, char **argv)
{
    int net = argc > 1 && strcmp(argv[1], "net") == 0;
    if (getpid() != 1)
        return fail("not started as the init of a pid namespace");
    setsid();
    if (sethostname("cryo-box", 8) || setdomainname("cryo-dom", 8))
        return fail("sethostname");
    if (net && (lo_up() || !loopback_works()))
        return fail("cannot bring lo up");
    signal(SIGUSR1, on_usr1);
    signal(SIGUSR2, on_usr2);
    int up[2];
    if (pipe(up))
        return fail("pipe");
    if (fork() == 0)
        child(up[1]);
    pid_t b = fork();
    if (b == 0) {
        if (fork() == 0)
            child(up[1]);
        _exit(0);
    }
    waitpid(b, NULL, 0);
    printf("ready\n");
    fflush(stdout);
    while (!check_requested)
        pause();

    if (getpid() != 1)
        return fail("no longer pid 1");
    if (ino("uts") == INIT_UTS || ino("ipc") == INIT_IPC || ino("pid") == INIT_PID)
        return fail("back in a namespace of the host's");
    if (net && ino("net") == INIT_NET)
        return fail("back in the host's net namespace");
    if (net && !loopback_works())
        return fail("lo is not up: no datagram over 127.0.0.1");
    struct utsname u;
    uname(&u);
    if (strcmp(u.nodename, "cryo-box") || strcmp(u.domainname, "cryo-dom")) {
        printf("FAIL: hostname '%s', domainname '%s'\n", u.nodename, u.domainname);
        return 1;
    }
    if (wake_and_reap(2, up[0], 1) || wake_and_reap(4, up[0], 1))
        return 1;
    printf("PASS\n");
    fflush(stdout);
    return 0;
}
