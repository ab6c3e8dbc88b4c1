package dev.cryo.engine.restore;

import dev.cryo.kernel.ExactPidSpawner;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Signals;
import dev.cryo.kernel.Spawner;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.Sockets;
import dev.cryo.kernel.ptrace.Injector;
import dev.cryo.kernel.ptrace.Ptrace;
import dev.cryo.kernel.ptrace.SyscallGadget;
import dev.cryo.kernel.ptrace.Tracer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The processes a unix socket's peer credentials name. socketpair(), listen() and connect() stamp
 * their caller's pid, euid and egid into the sockets (SO_PEERCRED) and nothing changes them later,
 * so those calls are made by a process at the recorded pid, with the recorded euid/egid for the
 * call: one per pid, made before the tree is forked (a pid of the tree's is free then, as is one
 * whose process had exited), the calls injected, and killed and reaped before the tree's own task
 * takes the pid. The sockets keep the number; their SO_PEERPIDFD names the stand-in, gone.
 * Used from one thread (the one that builds the sockets: it traces the stand-ins).
 */
final class PeerCredStandIns implements AutoCloseable {
    private static final int PAGE = 4096, PROT_RW = 3, MAP_PRIVATE_ANON = 0x22;

    private record StandIn(Pid pid, Injector inj, long scratch, long cryoPidfd, Fd pidfd) {}

    private final Map<Integer, StandIn> byPid = new LinkedHashMap<>();
    private Tracer tracer;

    /** A new pair, both ends naming {@code creds} as their peer. */
    Fd[] socketpair(int type, Sockets.Ucred creds) {
        StandIn s = at(creds.pid());
        asCreds(s, creds, "socketpair", SyscallNr.SOCKETPAIR, SockAddr.AF_UNIX, type, 0, s.scratch());
        ByteBuffer fds = ByteBuffer.wrap(Sys.read(s.pid(), s.scratch(), 8)).order(ByteOrder.nativeOrder());
        int a = fds.getInt(), b = fds.getInt();
        try {
            return new Fd[] {Sys.pidfdGetfd(s.pidfd(), s.pid(), a), Sys.pidfdGetfd(s.pidfd(), s.pid(), b)};
        } finally {
            s.inj().raw(SyscallNr.CLOSE, a);
            s.inj().raw(SyscallNr.CLOSE, b);
        }
    }

    /** listen() on cryo's socket {@code sock}: clients that connect next are given {@code creds} as their peer. */
    void listen(Fd sock, int backlog, Sockets.Ucred creds) {
        StandIn s = at(creds.pid());
        long fd = take(s, sock);
        try {
            asCreds(s, creds, "listen", SyscallNr.LISTEN, fd, backlog);
        } finally {
            s.inj().raw(SyscallNr.CLOSE, fd);
        }
    }

    /** connect() of cryo's socket {@code sock} to {@code to}: the server's end is given {@code creds} as its peer. */
    void connect(Fd sock, SockAddr to, Sockets.Ucred creds) {
        StandIn s = at(creds.pid());
        long fd = take(s, sock);
        try {
            byte[] addr = to.encode();
            Sys.write(s.pid(), s.scratch() + 64, addr);
            asCreds(s, creds, "connect(" + to + ")", SyscallNr.CONNECT, fd, s.scratch() + 64, addr.length);
        } finally {
            s.inj().raw(SyscallNr.CLOSE, fd);
        }
    }

    /** The stand-in's own fd of cryo's socket. */
    private static long take(StandIn s, Fd sock) {
        return s.inj().call("pidfd_getfd(cryo, " + sock.value() + ")", SyscallNr.PIDFD_GETFD, s.cryoPidfd(), sock.value(), 0);
    }

    /**
     * Runs the call with euid/egid {@code creds} (fsuid/fsgid 0: the socket file's permissions are
     * cryo's business, the original caller had passed them), then root again: real and saved ids stay 0.
     */
    private static void asCreds(StandIn s, Sockets.Ucred creds, String name, int nr, long... args) {
        Injector inj = s.inj();
        boolean switched = creds.uid() != 0 || creds.gid() != 0;
        if (switched) {
            inj.call("setresgid", SyscallNr.SETRESGID, -1, creds.gid() & 0xffffffffL, -1);
            inj.call("setresuid", SyscallNr.SETRESUID, -1, creds.uid() & 0xffffffffL, -1);
            inj.raw(SyscallNr.SETFSUID, 0);
            inj.raw(SyscallNr.SETFSGID, 0);
        }
        try {
            inj.call(name + " as pid " + s.pid() + " (uid " + creds.uid() + ", gid " + creds.gid() + ")", nr, args);
        } finally {
            if (switched) {
                inj.call("setresuid", SyscallNr.SETRESUID, -1, 0, -1);
                inj.call("setresgid", SyscallNr.SETRESGID, -1, 0, -1);
            }
        }
    }

    private StandIn at(int pid) {
        StandIn known = byPid.get(pid);
        if (known != null) {
            return known;
        }
        if (tracer == null) {
            tracer = new Tracer();
        }
        Pid p;
        try {
            p = ExactPidSpawner.spawnForked(pid, 0, 0, false, true);
        } catch (ExactPidSpawner.PidTakenException e) {
            throw new RestoreException("a unix socket's peer credentials (SO_PEERCRED) name pid " + pid + ", and a"
                    + " process at that pid makes the socket again; " + e.getMessage());
        }
        try {
            tracer.seizeAndInterrupt(pid, Ptrace.O_EXITKILL);
            tracer.waitForStop(pid);
            Injector inj = new Injector(tracer, p, pid, SyscallGadget.inVdso(p));
            long scratch = inj.call("mmap(scratch)", SyscallNr.MMAP, 0, PAGE, PROT_RW, MAP_PRIVATE_ANON, -1, 0);
            long cryo = inj.call("pidfd_open(cryo)", SyscallNr.PIDFD_OPEN, ProcessHandle.current().pid(), 0);
            StandIn s = new StandIn(p, inj, scratch, cryo, Sys.pidfdOpen(p));
            byPid.put(pid, s);
            return s;
        } catch (RuntimeException e) {
            end(p);
            throw e;
        }
    }

    private static void end(Pid p) {
        try {
            Sys.kill(p, Signals.SIGKILL);
        } catch (RuntimeException ignored) {
            // gone already
        }
        Spawner.reap(p);
    }

    /** Kills and reaps every stand-in: their pids are free again for the tree. */
    @Override
    public void close() {
        for (StandIn s : byPid.values()) {
            s.pidfd().close();
            end(s.pid());
        }
        byPid.clear();
        if (tracer != null) {
            tracer.close();
            tracer = null;
        }
    }
}
