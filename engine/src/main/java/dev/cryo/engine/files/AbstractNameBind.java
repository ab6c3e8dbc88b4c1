package dev.cryo.engine.files;

import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.Errno;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.SyscallException;
import dev.cryo.kernel.net.SockAddr;
import dev.cryo.kernel.net.SockDiag;
import dev.cryo.kernel.net.Sockets;

import java.time.Duration;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Collectors;

/**
 * The bind of a restored unix socket to its abstract name, which the dumped socket itself may still
 * hold after the killing dump: a socket in flight in its own queue (zdtm's scm06, a loop) outlives
 * its tasks until the kernel's unix garbage collector takes it, and that runs from a workqueue only
 * once some unix socket is closed (measured here: 80-700 ms after the tasks' death on a quiet host).
 * Another socket holding the name is not waited for.
 */
final class AbstractNameBind {
    private AbstractNameBind() {}

    /** How long the dumped socket may take to be freed: the collector runs unless the host is starved. */
    static final Duration FREED_WITHIN = Duration.ofSeconds(30);

    /**
     * Binds {@code s} to abstract name {@code name} of dumped socket {@code ino} (type {@code type});
     * false when another socket holds that name (and the dumped one is gone). Waits while the dumped socket holds it and no process
     * does (only the kernel's collector frees it then); fails naming the holder when one does.
     */
    static boolean bind(Fd s, SockAddr name, int type, long ino) {
        if (tryBind(s, name)) {
            return true;
        }
        long deadline = System.nanoTime() + FREED_WITHIN.toNanos();
        for (boolean looked = false; ; ) {
            Set<Long> named = named(name, type);
            if (!named.isEmpty() && !named.contains(ino)) {
                return false;
            }
            if (named.contains(ino) && !looked) {
                String held = OutsideHolder.of("socket:[" + ino + "]", pid -> false);
                if (!held.isEmpty()) {
                    throw new RestoreException("unix socket name " + name + " is still held by the dumped socket (inode "
                            + ino + ")" + held + ": the dumped tree's socket lives on there");
                }
                looked = true;
            }
            Sockets.socket(SockAddr.AF_UNIX, Sockets.SOCK_DGRAM, 0).close(); // a unix socket's close runs the collector
            if (tryBind(s, name)) {
                return true;
            }
            if (System.nanoTime() > deadline) {
                throw new RestoreException("unix socket name " + name + " is still held by the dumped socket (inode " + ino
                        + ") " + FREED_WITHIN.toSeconds() + " s after its tasks ended: it is in flight in a queue"
                        + " the kernel has not freed (a socket outside the tree may hold it unread)");
            }
            LockSupport.parkNanos(2_000_000);
        }
    }

    private static boolean tryBind(Fd s, SockAddr name) {
        try {
            Sockets.bind(s, name);
            return true;
        } catch (SyscallException e) {
            if (!e.is(Errno.EADDRINUSE)) {
                throw e;
            }
            return false;
        }
    }

    /**
     * The inodes of the sockets of {@code type} named {@code name} in this network namespace: the one
     * bound to it, and those accepted from it when it listens (they repeat its name).
     */
    private static Set<Long> named(SockAddr name, int type) {
        try (SockDiag diag = SockDiag.open()) {
            return diag.unixSockets().values().stream()
                    .filter(u -> u.type() == type && Arrays.equals(u.name(), name.address()))
                    .map(SockDiag.UnixSocket::ino).collect(Collectors.toSet());
        }
    }
}
