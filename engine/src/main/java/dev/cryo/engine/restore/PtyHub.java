package dev.cryo.engine.restore;

import dev.cryo.kernel.Fcntl;
import dev.cryo.engine.files.PtyMasterHandler;
import dev.cryo.engine.files.PtyQueues;
import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.Terminals;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

import static dev.cryo.kernel.Fcntl.O_CLOEXEC;
import static dev.cryo.kernel.Fcntl.O_NONBLOCK;
import static dev.cryo.kernel.Fcntl.O_RDWR;

/**
 * The pseudo-terminal pairs of a restore, reopened by cryo before the FILES stage: for each dumped
 * master, /dev/ptmx is opened again (with the master's flags) until the kernel hands out the dumped
 * index — it gives the lowest free one, so up to 32 tries, keeping the lower ones open meanwhile, as
 * CRIU does. If that index is taken on this host, the pair keeps the first index it got: slaves
 * are made from the master (TIOCGPTPEER), so every slave fd, and the controlling terminals, follow
 * it to the new /dev/pts/N; a warning says so. Then termios, window size and packet mode are set
 * (on the master, the kernel applies them to the slave side). Tasks take the master and their
 * slave open files from cryo; {@link #finish} restores the lock and the exclusive modes, which
 * would refuse those opens, and closes cryo's copies.
 */
public final class PtyHub implements AutoCloseable {
    private static final int TRIES = 32;

    private record Pair(PtyMasterHandler.PtyMaster image, Fd master, int index) {}

    private final Map<Integer, Pair> pairs = new TreeMap<>();
    private final List<Fd> slaves = new ArrayList<>();
    private final java.util.Set<Integer> claimed = new java.util.HashSet<>();

    /** Reopens every pair of the image; {@code warn} hears of a pair that got another index. */
    public static PtyHub of(List<TaskImage> tasks, Consumer<String> warn) {
        Map<Integer, FdImage> masters = new TreeMap<>(); // by index: lower ones first, they are taken first
        for (TaskImage t : tasks) {
            for (FdImage fd : dev.cryo.engine.files.InFlightFiles.withInFlight(t.fds())) {
                if (fd.desc() instanceof PtyMasterHandler.PtyMaster m) {
                    masters.putIfAbsent(m.index(), fd);
                }
            }
        }
        PtyHub hub = new PtyHub();
        if (masters.isEmpty()) {
            return hub;
        }
        List<Fd> spare = new ArrayList<>();
        // restores running side by side in one cryo (an agent) must not take each other's indexes
        synchronized (PtyHub.class) {
            return reopenAll(hub, masters, spare, warn);
        }
    }

    private static PtyHub reopenAll(PtyHub hub, Map<Integer, FdImage> masters, List<Fd> spare, Consumer<String> warn) {
        try {
            for (FdImage fd : masters.values()) {
                PtyMasterHandler.PtyMaster m = (PtyMasterHandler.PtyMaster) fd.desc();
                Pair p = hub.reopen(m, fd.flags() & ~O_CLOEXEC, spare);
                if (p.index() != m.index()) {
                    warn.accept("pseudo-terminal /dev/pts/" + m.index() + " is in use on this host: its pair is"
                            + " restored as /dev/pts/" + p.index());
                }
                hub.pairs.put(m.index(), p);
            }
        } catch (RuntimeException e) {
            hub.close();
            throw e;
        } finally {
            spare.forEach(Fd::close);
        }
        return hub;
    }

    private Pair reopen(PtyMasterHandler.PtyMaster m, int flags, List<Fd> spare) {
        Fd first = null;
        Fd got = null;
        for (int i = 0; i < TRIES && got == null; i++) {
            Fd fd = Terminals.openPtmx(flags);
            int index = Terminals.index(fd);
            if (index == m.index()) {
                got = fd;
            } else if (first == null) {
                first = fd;
            } else {
                spare.add(fd);
            }
            if (index > m.index()) {
                break; // the dumped index is held by someone else
            }
        }
        if (got == null) {
            got = first;
        } else if (first != null) {
            spare.add(first);
        }
        Terminals.locked(got, false);
        Terminals.termios(got, m.termios());
        Terminals.winsize(got, m.winsize());
        if (m.slaveClosed()) {
            Terminals.peer(got, O_RDWR).close(); // a last close of the slave: the master reads EIO again
        }
        Fd slave = null;
        if (m.queued().hasInput() || m.outputStopped()) { // kept until the tasks hold theirs: a last close hangs up
            slave = Terminals.peer(got, O_RDWR | O_NONBLOCK);
            slaves.add(slave);
        }
        PtyQueues.refill(got, slave, m.termios(), m.queued());
        if (m.outputStopped()) {
            PtyQueues.stopOutput(got, slave, m.termios());
        }
        if (m.packetMode()) {
            Terminals.packetMode(got, true);
        }
        Terminals.lockedTermios(got, m.lockedTermios()); // last: it would hold back cryo's own termios changes
        int index = Terminals.index(got);
        Sys.chownChmod("/dev/pts/" + index, m.slaveUid(), m.slaveGid(), m.slaveMode());
        return new Pair(m, got, index);
    }

    /** cryo's fd of the reopened master of dumped pty {@code index}. */
    public synchronized int master(int index) {
        if (!claimed.add(index)) {
            throw new RestoreException("the master of pty " + index + " is restored twice");
        }
        return pair(index).master().value();
    }

    /** A new open file of the slave of dumped pty {@code index} with {@code flags}; cryo keeps its copy until {@link #close}. */
    public synchronized int slave(int index, int flags) {
        Fd s = Terminals.peer(pair(index).master(), flags);
        slaves.add(s);
        return s.value();
    }

    /** Whether dumped pty {@code index} was reopened (a controlling terminal cryo can give back). */
    public boolean has(int index) {
        return pairs.containsKey(index);
    }

    /** The slave path the pair of dumped pty {@code index} has now. */
    public String slavePath(int index) {
        return "/dev/pts/" + pair(index).index();
    }

    private Pair pair(int index) {
        Pair p = pairs.get(index);
        if (p == null) {
            throw new RestoreException("pseudo-terminal " + index + " was not reopened");
        }
        return p;
    }

    /** After FILES: the exclusive modes and the lock, which refuse new opens of the slave, then cryo lets go. */
    public synchronized void finish() {
        for (Pair p : pairs.values()) {
            if (p.image().slaveExclusive()) {
                try (Fd s = Terminals.peer(p.master(), O_RDWR)) {
                    Terminals.makeExclusive(s);
                }
            }
            if (p.image().masterExclusive()) {
                Terminals.makeExclusive(p.master());
            }
            if (p.image().locked()) {
                Terminals.locked(p.master(), true);
            }
        }
        close();
    }

    @Override
    public synchronized void close() {
        slaves.forEach(Fd::close);
        slaves.clear();
        pairs.values().forEach(p -> p.master().close());
    }
}
