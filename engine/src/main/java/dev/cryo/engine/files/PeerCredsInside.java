package dev.cryo.engine.files;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.dump.RemoteTask;
import dev.cryo.engine.model.FdImage;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.net.Sockets;
import dev.cryo.kernel.ptrace.Injector;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The pid a unix socket's peer that had exited had in its holder's own pid namespace (zdtm's
 * sock_peercred in a container): the kernel keeps the peer's pid and gives its number in the
 * namespace of whoever asks, so cryo, outside, learns only its outer number. The holder is asked
 * with an injected getsockopt(SO_PEERCRED) (frozen, on its tracer thread); the restore makes the
 * peer's stand-in at that pid in there. A peer the holder's namespace never showed (the call gives
 * pid 0) could not be made where the holder sees it: refused, naming it.
 */
public final class PeerCredsInside {
    private PeerCredsInside() {}

    /** The scratch layout: the ucred read (pid, uid, gid), then its length. */
    private static final int UCRED = 0, LENGTH = 16, UCRED_SIZE = 12;

    /** {@code fds} with each dead peer's pid inside the task's own pid namespace, when it has one. */
    public static List<FdImage> learn(RemoteTask remote, List<FdImage> fds) {
        Pid pid = remote.pid();
        if (fds.stream().noneMatch(PeerCredsInside::namesTheDead) || SenderStandIns.outsideCryosPidNamespace(pid) == null) {
            return fds;
        }
        List<FdImage> out = new ArrayList<>(fds.size());
        long at = remote.scratch();
        try (Injector inj = remote.injector(pid.value())) {
            for (FdImage fd : fds) {
                if (fd.desc() instanceof UnixSocketHandler.UnixSocket u && namesTheDead(fd)) {
                    int inside = pidInside(inj, pid, at, fd.fd(), u);
                    out.add(new FdImage(fd.fd(), fd.flags(), fd.position(),
                            u.withPeerInside(new UnixSocketHandler.PeerInside(pid.value(), inside)), fd.owner()));
                } else {
                    out.add(fd);
                }
            }
        }
        return out;
    }

    /** A unix socket whose peer credentials name a process that had exited by the dump (no zombie of the tree's). */
    private static boolean namesTheDead(FdImage fd) {
        return fd.desc() instanceof UnixSocketHandler.UnixSocket u && u.peerCreds() != null && u.peerCreds().present()
                && !Files.exists(Path.of("/proc/" + u.peerCreds().pid()));
    }

    private static int pidInside(Injector inj, Pid pid, long at, int fd, UnixSocketHandler.UnixSocket u) {
        Sys.write(pid, at + LENGTH, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(0, UCRED_SIZE).array());
        inj.call("getsockopt(fd " + fd + ", SO_PEERCRED)", SyscallNr.GETSOCKOPT, fd, Sockets.SOL_SOCKET,
                Sockets.SO_PEERCRED, at + UCRED, at + LENGTH);
        int inside = ByteBuffer.wrap(Sys.read(pid, at + UCRED, UCRED_SIZE)).order(ByteOrder.LITTLE_ENDIAN).getInt(0);
        if (inside <= 0) {
            throw new DumpException("pid " + pid + " fd " + fd + ": unix socket " + u.ino() + ": its peer credentials"
                    + " (SO_PEERCRED) name pid " + u.peerCreds().pid() + ", which has exited and was outside the pid"
                    + " namespace of pid " + pid + " holding it (it sees pid 0 there); a restore could not make a"
                    + " process at that pid the holder sees");
        }
        return inside;
    }
}
