package dev.cryo.engine.restore;

import dev.cryo.engine.files.UnixSocketHandler;
import dev.cryo.kernel.ExactPidSpawner;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Spawner;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.Ptrace;
import dev.cryo.kernel.ptrace.SyscallGadget;
import dev.cryo.kernel.ptrace.Tracer;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Stand-ins for processes a unix socket's peer credentials name that had exited by the dump (zdtm's
 * sock_peercred: a child made a pair and exited): one per pid, spawned at it once the tree is forked
 * (the pid is free then as it was at the dump), the calls injected ({@link PeerCalls}), and killed
 * and reaped at the end of the build. The sockets name a dead process again, as they did. A pid
 * the tree's session still holds (its dead leader's: a daemon that listened, then forked away from
 * the session `setsid` made) is taken by the helper that made the session, kept until then. A peer of
 * a container's, with a pid of its own in its holder's pid namespace, is made in there at that pid
 * (and in its net namespace), at its outer pid too when it is free.
 * Used from one thread (the one that builds the sockets: it traces the stand-ins).
 */
final class PeerCredStandIns implements AutoCloseable {
    private static final int PAGE = 4096, PROT_RW = 3, MAP_PRIVATE_ANON = 0x22;
    /** Where a stand-in inside a container's pid namespace holds its pidfd of cryo (cryo's pid means nothing there). */
    private static final int CRYO_PIDFD = 900;

    /** A stand-in: the task, its pidfd of cryo (to take cryo's sockets) and cryo's pidfd of it. */
    private record StandIn(InjectedRemote remote, long cryoPidfd, Fd pidfd) {
        Injector inj() {
            return remote.inj();
        }
    }

    /** By pid as cryo sees it, or by pid namespace and pid inside for a container's peer. */
    private final Map<String, StandIn> byPid = new LinkedHashMap<>();
    private Tracer tracer;

    /** A new pair, both ends naming {@code peer}. */
    Fd[] socketpair(int type, SocketHub.Peer peer) {
        StandIn s = at(peer);
        return PeerCalls.socketpair(s.remote(), s.pidfd(), type, peer);
    }

    /** listen() on cryo's socket {@code sock}: clients that connect next are given {@code peer}. */
    void listen(Fd sock, int backlog, SocketHub.Peer peer) {
        StandIn s = at(peer);
        long fd = take(s, sock);
        try {
            PeerCalls.listen(s.remote(), fd, backlog, peer);
        } finally {
            s.inj().raw(SyscallNr.CLOSE, fd);
        }
    }

    /** connect() of cryo's socket {@code sock} to {@code to}: the server's end is given {@code peer}. */
    void connect(Fd sock, SockAddr to, SocketHub.Peer peer) {
        StandIn s = at(peer);
        long fd = take(s, sock);
        try {
            PeerCalls.connect(s.remote(), fd, to, peer);
        } finally {
            s.inj().raw(SyscallNr.CLOSE, fd);
        }
    }

    /** The stand-in's own fd of cryo's socket. */
    private static long take(StandIn s, Fd sock) {
        return s.inj().call("pidfd_getfd(cryo, " + sock.value() + ")", SyscallNr.PIDFD_GETFD, s.cryoPidfd(), sock.value(), 0);
    }

    private StandIn at(SocketHub.Peer peer) {
        int pid = peer.creds().pid();
        UnixSocketHandler.PeerInside inside = peer.inside();
        String key = inside == null ? Integer.toString(pid)
                : dev.cryo.kernel.Namespaces.link(Integer.toString(inside.holder()), "pid") + " " + inside.pid();
        StandIn known = byPid.get(key);
        if (known != null) {
            return known;
        }
        if (tracer == null) {
            tracer = new Tracer();
        }
        // the dead leader of the tree's session: its helper has the pid
        Pid p = inside == null ? ExactPidSpawner.keptLeader(pid) : null;
        try {
            if (inside != null) { // a container's: made in its namespaces, the task holding the socket sees it there
                p = ExactPidSpawner.spawnInNamespacesOf(Pid.of(inside.holder()), inside.pid(), pid, CRYO_PIDFD);
            } else if (p == null) {
                p = ExactPidSpawner.spawnForked(pid, 0, 0, false, true);
            }
        } catch (ExactPidSpawner.PidTakenException e) {
            throw new RestoreException("a unix socket's peer credentials (SO_PEERCRED) name pid " + pid
                    + (inside == null ? "" : " (pid " + inside.pid() + " in the pid namespace of pid " + inside.holder() + ")")
                    + ", which had exited by the dump, and a process at that pid makes the socket again; " + e.getMessage());
        }
        try {
            tracer.seizeAndInterrupt(p.value(), Ptrace.O_EXITKILL);
            tracer.waitForStop(p.value());
            Injector inj = new Injector(tracer, p, p.value(), SyscallGadget.inVdso(p));
            long scratch = inj.call("mmap(scratch)", SyscallNr.MMAP, 0, PAGE, PROT_RW, MAP_PRIVATE_ANON, -1, 0);
            long cryo = inside != null ? CRYO_PIDFD
                    : inj.call("pidfd_open(cryo)", SyscallNr.PIDFD_OPEN, ProcessHandle.current().pid(), 0);
            StandIn s = new StandIn(new InjectedRemote(p, inj, scratch), cryo, Sys.pidfdOpen(p));
            byPid.put(key, s);
            return s;
        } catch (RuntimeException e) {
            end(p);
            throw e;
        }
    }

    private static void end(Pid p) {
        if (ExactPidSpawner.keptLeader(p.value()) != null) {
            ExactPidSpawner.endLeader(p.value());
            return;
        }
        try {
            Sys.kill(p, Signals.SIGKILL);
        } catch (RuntimeException ignored) {
            // gone already
        }
        Spawner.reap(p);
    }

    /** Kills and reaps every stand-in. */
    @Override
    public void close() {
        for (StandIn s : byPid.values()) {
            s.pidfd().close();
            end(s.remote().proc());
        }
        byPid.clear();
        if (tracer != null) {
            tracer.close();
            tracer = null;
        }
    }
}
