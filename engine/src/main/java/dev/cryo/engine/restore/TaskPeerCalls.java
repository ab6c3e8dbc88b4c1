package dev.cryo.engine.restore;

import dev.cryo.kernel.Clone;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Namespaces;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.net.SockAddr;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * {@link PeerCalls} made inside a task of the tree (forked, not yet running), on the thread that
 * traces it: the sockets name the restored task itself as their peer, so SO_PEERPIDFD gives a pidfd
 * of it. cryo's socket goes into the task and back with SCM_RIGHTS ({@link FdDelivery}); the calls
 * run in the build's view: a pair is made in the net namespace of the build (the task joins it for
 * the call when it is in another), and a path the task would not resolve to the same file as the
 * build's thread is reached through an O_PATH fd of the socket file (/proc/self/fd/N).
 */
final class TaskPeerCalls {
    private TaskPeerCalls() {}

    /** {@code n} pairs ({@link PeerCalls#socketpairs}) made in the task, in one message to its thread. */
    static java.util.List<Fd[]> socketpairs(SocketHub.TaskCalls tasks, Fd sender, int type, SocketHub.Peer p, int n) {
        int pid = p.creds().pid();
        try (Fd pidfd = Sys.pidfdOpen(Pid.of(pid))) {
            if (Objects.equals(Namespaces.link(Integer.toString(pid), "net"), Namespaces.link("thread-self", "net"))) {
                return tasks.inTask(pid, r -> PeerCalls.socketpairs(r, pidfd, type, p, n));
            }
            try (Fd want = Sys.open("/proc/thread-self/ns/net", Fcntl.O_RDONLY | Fcntl.O_CLOEXEC);
                 Fd own = Sys.open("/proc/" + pid + "/ns/net", Fcntl.O_RDONLY | Fcntl.O_CLOEXEC)) {
                return tasks.inTask(pid, r -> {
                    long w = FdDelivery.deliver(r, sender, want, "a net namespace"), o = -1;
                    try {
                        o = FdDelivery.deliver(r, sender, own, "its own net namespace");
                        r.call("setns(the socket's net namespace)", SyscallNr.SETNS, w, Clone.NEWNET);
                        try {
                            return PeerCalls.socketpairs(r, pidfd, type, p, n);
                        } finally {
                            r.call("setns(its own net namespace)", SyscallNr.SETNS, o, Clone.NEWNET);
                        }
                    } finally {
                        r.call("close", SyscallNr.CLOSE, w);
                        if (o >= 0) {
                            r.call("close", SyscallNr.CLOSE, o);
                        }
                    }
                });
            }
        }
    }

    static void listen(SocketHub.TaskCalls tasks, Fd sender, Fd sock, int backlog, SocketHub.Peer p) {
        withSocket(tasks, sender, sock, p, (r, fd) -> PeerCalls.listen(r, fd, backlog, p));
    }

    static void connect(SocketHub.TaskCalls tasks, Fd sender, Fd sock, SockAddr to, SocketHub.Peer p) {
        int pid = p.creds().pid();
        if (to.isAbstract() || to.isUnbound() || (to.address().length > 0 && to.address()[0] == '/' && sameView(pid))) {
            withSocket(tasks, sender, sock, p, (r, fd) -> PeerCalls.connect(r, fd, to, p));
            return;
        }
        String raw = new String(to.address(), StandardCharsets.UTF_8);
        String path = raw.indexOf(0) >= 0 ? raw.substring(0, raw.indexOf(0)) : raw;
        try (Fd file = Sys.open(path, Fcntl.O_PATH | Fcntl.O_CLOEXEC)) {
            withSocket(tasks, sender, sock, p, (r, fd) -> {
                long f = FdDelivery.deliver(r, sender, file, "the socket file " + path);
                try {
                    PeerCalls.connect(r, fd, SockAddr.unix(("/proc/self/fd/" + f).getBytes(StandardCharsets.UTF_8)), p);
                } finally {
                    r.call("close", SyscallNr.CLOSE, f);
                }
            });
        }
    }

    private interface WithFd {
        void run(SocketHub.Remote r, long fd);
    }

    /** Runs {@code op} in the task with its own fd of cryo's socket {@code sock}, closed after. */
    private static void withSocket(SocketHub.TaskCalls tasks, Fd sender, Fd sock, SocketHub.Peer p, WithFd op) {
        tasks.inTask(p.creds().pid(), r -> {
            long fd = FdDelivery.deliver(r, sender, sock, "a unix socket");
            try {
                op.run(r, fd);
            } finally {
                r.call("close", SyscallNr.CLOSE, fd);
            }
            return null;
        });
    }

    /** Whether task {@code pid} resolves paths as the build's thread does: the same mount namespace and root. */
    private static boolean sameView(int pid) {
        try {
            Path theirs = Path.of("/proc/" + pid + "/root"), mine = Path.of("/proc/thread-self/root");
            return Objects.equals(Namespaces.link(Integer.toString(pid), "mnt"), Namespaces.link("thread-self", "mnt"))
                    && Files.getAttribute(theirs, "unix:ino").equals(Files.getAttribute(mine, "unix:ino"))
                    && Files.getAttribute(theirs, "unix:dev").equals(Files.getAttribute(mine, "unix:dev"));
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
