/*
 * A daemon that reads its netlink and inotify queues a moment after they fill, as keepalived,
 * BIRD or systemd-networkd do. Argument: a directory. It asks the kernel for its links on a
 * routing socket (RTM_GETLINK) and creates a file in the watched directory, prints "ready", and
 * reads both on SIGUSR1 (the test sends it once a dump has seized the program: the moment it
 * runs again is its "moment later"): the dump finds an answer and an event unread, which cannot
 * be queued again. On SIGUSR2 both queues must be empty and the socket must still answer a new
 * request with the same links.
 */
#include "workload.h"
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void ask(int s, unsigned seq) {
    struct {
        struct nlmsghdr h;
        struct ifinfomsg i;
    } req;
    memset(&req, 0, sizeof req);
    req.h.nlmsg_len = sizeof req;
    req.h.nlmsg_type = RTM_GETLINK;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.h.nlmsg_seq = seq;
    if (send(s, &req, sizeof req, 0) != sizeof req) fail("send RTM_GETLINK");
}

/* Reads the answer to request seq up to NLMSG_DONE; returns the number of links. */
static int links(int s, unsigned seq) {
    static char buf[65536];
    int n = 0;
    for (;;) {
        ssize_t got = recv(s, buf, sizeof buf, 0);
        if (got < 0) fail("recv");
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, got); h = NLMSG_NEXT(h, got)) {
            if (h->nlmsg_seq != seq) fail("an answer to another request");
            if (h->nlmsg_type == NLMSG_DONE) return n;
            if (h->nlmsg_type == NLMSG_ERROR) fail("NLMSG_ERROR");
            if (h->nlmsg_type == RTM_NEWLINK) n++;
        }
    }
}

static volatile sig_atomic_t go;

static void on_usr1(int sig) {
    (void)sig;
    go = 1;
}

int main(int argc, char **argv) {
    if (argc < 2) fail("usage: nlunread DIR");
    signal(SIGUSR2, on_usr2);
    signal(SIGUSR1, on_usr1);
    int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof sa) != 0) fail("netlink socket");
    int in = inotify_init1(IN_CLOEXEC);
    if (in < 0 || inotify_add_watch(in, argv[1], IN_CREATE) < 0) fail("inotify");
    ask(s, 1);
    char path[4096];
    snprintf(path, sizeof path, "%s/made", argv[1]);
    int f = open(path, O_CREAT | O_WRONLY, 0600);
    if (f < 0) fail("create");
    close(f);
    printf("ready\n");
    fflush(stdout);
    while (!go) pause();
    int first = links(s, 1);
    char ev[4096];
    if (read(in, ev, sizeof ev) <= 0) fail("read inotify");
    if (strcmp(((struct inotify_event *)ev)->name, "made") != 0) fail("an event for another file");
    while (!check) pause();
    int queued = -1;
    if (ioctl(in, FIONREAD, &queued) != 0 || queued != 0) fail("inotify events after the restore");
    if (recv(s, ev, sizeof ev, MSG_DONTWAIT) >= 0 || errno != EAGAIN) fail("netlink messages after the restore");
    ask(s, 2);
    int again = links(s, 2);
    if (first < 1 || again != first) fail("another number of links");
    printf("PASS links=%d\n", again);
    fflush(stdout);
    return 0;
}
