/*
 * A program that asks the kernel for its links in a tight loop, as getifaddrs in a loop does: one
 * netlink socket, an RTM_GETLINK dump request, every answer read to its NLMSG_DONE, again. The kernel
 * makes each answer while the request is sent, so a seize lands right after a send with the answer
 * queued at many freezes (such dumps were refused: "holds the kernel's answer to a request it sent").
 * Prints "ready"; checks every message it reads answers its latest request (an answer lost or read
 * twice shows as a message of another sequence, or a request never answered as a hang); on SIGUSR2
 * prints PASS with the number of requests, or FAIL: reason.
 */
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t check;
static void on_usr2(int sig) { (void)sig; check = 1; }

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR2, &sa, NULL);
    int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (s < 0) { printf("FAIL: socket\n"); return 1; }
    struct { struct nlmsghdr h; struct ifinfomsg i; } req;
    static char buf[1 << 16];
    unsigned seq = 0;
    printf("ready\n");
    while (!check) {
        memset(&req, 0, sizeof req);
        req.h.nlmsg_len = sizeof req;
        req.h.nlmsg_type = RTM_GETLINK;
        req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        req.h.nlmsg_seq = ++seq;
        if (send(s, &req, sizeof req, 0) != sizeof req) { printf("FAIL: send\n"); return 1; }
        for (int done = 0; !done;) {
            ssize_t n = recv(s, buf, sizeof buf, 0);
            if (n <= 0) { printf("FAIL: recv\n"); return 1; }
            for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
                if (h->nlmsg_seq != seq) { printf("FAIL: a message of request %u after request %u\n", h->nlmsg_seq, seq); return 1; }
                if (h->nlmsg_type == NLMSG_ERROR) { printf("FAIL: the kernel refused request %u\n", seq); return 1; }
                if (h->nlmsg_type == NLMSG_DONE) done = 1;
            }
        }
    }
    printf("PASS requests=%u\n", seq);
    return 0;
}
