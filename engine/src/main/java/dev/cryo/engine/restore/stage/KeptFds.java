package dev.cryo.engine.restore.stage;

import dev.cryo.engine.restore.FdDelivery;
import dev.cryo.engine.restore.SocketHub;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.SyscallNr;

/**
 * Fds cryo keeps in a task for one files pass: a receiver for the sockets it plants and a pidfd of
 * cryo, or of another task of the tree, for the files the task takes from them, so that each file
 * costs one injected call instead of four. They are numbered above every fd of the task's image, so
 * no number the restore gives collides with them, and closed with the pass. Each is made at its
 * second use (for a single file, one of the moment costs no more).
 */
final class KeptFds implements AutoCloseable {
    private final TaskContext t;
    private final SocketHub.Remote remote;
    private final int above;
    private int receivers;
    private FdDelivery.Receiver receiver;
    /** Uses so far of a pidfd of each process, and the one kept for it (-1: none to be had, one of the moment each time). */
    private final java.util.Map<Integer, Integer> uses = new java.util.HashMap<>();
    private final java.util.Map<Integer, Long> pidfds = new java.util.LinkedHashMap<>();

    KeptFds(TaskContext t, SocketHub.Remote remote) {
        this.t = t;
        this.remote = remote;
        this.above = t.task().fds().stream().mapToInt(dev.cryo.engine.model.FdImage::fd).max().orElse(0);
    }

    /** The receiver for the next socket, or null: one of the moment. */
    FdDelivery.Receiver receiver() {
        if (++receivers == 2) {
            receiver = FdDelivery.Receiver.open(remote, above);
        }
        return receiver;
    }

    /** The receiver, made now if it is not yet (several fds come at once), or null: none to be had. */
    FdDelivery.Receiver receiverNow() {
        if (receiver == null && receivers < 2) {
            receivers = 2;
            receiver = FdDelivery.Receiver.open(remote, above);
        }
        return receiver;
    }

    /** A pidfd of process {@code pid} in the task ({@code seen}: that pid as the task names it), or -1: one of the moment. */
    long pidfd(int pid, int seen) {
        Long kept = pidfds.get(pid);
        if (kept != null) {
            return kept;
        }
        if (uses.merge(pid, 1, Integer::sum) < 2) {
            return -1;
        }
        long fd = t.call("pidfd_open(" + seen + ")", SyscallNr.PIDFD_OPEN, seen, 0);
        long high;
        try {
            high = t.call("fcntl(F_DUPFD_CLOEXEC)", SyscallNr.FCNTL, fd, Fcntl.F_DUPFD_CLOEXEC, above + 1);
        } catch (RuntimeException e) {
            high = -1; // no number that high under the task's RLIMIT_NOFILE: one of the moment each time
        } finally {
            t.later("close", SyscallNr.CLOSE, fd);
        }
        pidfds.put(pid, high);
        return high;
    }

    /** Queued: they close with the pass's other queued calls, no round trip of their own. */
    @Override
    public void close() {
        if (receiver != null) {
            t.later("close", SyscallNr.CLOSE, receiver.fd());
            receiver = null;
        }
        pidfds.values().stream().filter(fd -> fd >= 0).forEach(fd -> t.later("close", SyscallNr.CLOSE, fd));
        pidfds.clear();
    }
}
