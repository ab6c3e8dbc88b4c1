package dev.cryo.engine.restore;

import dev.cryo.kernel.Fcntl;
import dev.cryo.engine.files.PtyMasterHandler;
import dev.cryo.engine.files.PtyQueues;
import dev.cryo.engine.files.PtySlaveHandler;
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
 * The pseudo-terminal pairs of a restore, reopened by cryo: for each dumped master, a ptmx of its
 * devpts instance is opened again (with the master's flags) until the kernel hands out the dumped
 * index — it gives the lowest free one, so the lower ones are kept open meanwhile, as CRIU does.
 * Pairs of the host's devpts are reopened before the FILES stage through /dev/ptmx (up to 32 tries);
 * if their index is taken on this host, the pair keeps the first index it got: slaves are made from
 * the master (TIOCGPTPEER), so every slave fd, and the controlling terminals, follow it to the new
 * /dev/pts/N; a warning says so. Pairs of a devpts instance of the tree's own (a container's
 * /dev/pts) are reopened, all of one instance in index order, when the task that made the mount
 * namespace holding it has made its mounts again at ADOPT ({@link #openInstancesOf}), through that
 * task's root: the instance is new and empty, so every index is free. Then termios, window size
 * and packet mode are set (on the master, the kernel applies them to the slave side). Tasks take the
 * master and their slave open files from cryo; {@link #finish} restores the lock and the exclusive
 * modes, which would refuse those opens, and closes cryo's copies. A hung-up slave (its master
 * closed by every process) gets a pair of its own, opened after the others with the same search
 * for its index (one of an instance of the tree's own with that instance's pairs); its master only
 * cryo holds, so closing it in {@link #finish} hangs the slaves up.
 */
public final class PtyHub implements AutoCloseable {
    private static final int TRIES = 32;

    /** A dumped pty: its devpts instance (0: the host's) and its index there. */
    private record Key(long instance, int index) implements Comparable<Key> {
        @Override
        public int compareTo(Key o) {
            return instance != o.instance ? Long.compare(instance, o.instance) : Integer.compare(index, o.index);
        }
    }

    /** {@code nodes}: the directory of its slave nodes, as cryo reaches it. */
    private record Pair(PtyMasterHandler.PtyMaster image, Fd master, int index, String nodes) {}

    private final Map<Key, Pair> pairs = new TreeMap<>();
    /** Pairs of the tree's own devpts instances, by the pid whose ADOPT reopens them. */
    private final Map<Integer, Map<Key, FdImage>> waiting = new TreeMap<>();
    private final List<Fd> slaves = new ArrayList<>();
    private final java.util.Set<Key> claimed = new java.util.HashSet<>();
    /** The masters standing for hung-up ptys, by dumped instance and index. */
    private final Map<Key, Fd> hungUp = new TreeMap<>();
    /** Hung-up ptys of the tree's own devpts instances, by the pid whose ADOPT makes them. */
    private final Map<Integer, Map<Key, PtySlaveHandler.PtySlave>> hungUpWaiting = new TreeMap<>();

    /** Reopens every pair of the host's devpts of the image; {@code warn} hears of a pair that got another index. */
    public static PtyHub of(List<TaskImage> tasks, Consumer<String> warn) {
        Map<Key, FdImage> masters = new TreeMap<>(); // by index: lower ones first, they are taken first
        Map<Key, PtySlaveHandler.PtySlave> hungUp = new TreeMap<>();
        PtyHub hub = new PtyHub();
        for (TaskImage t : tasks) {
            for (FdImage fd : dev.cryo.engine.files.InFlightFiles.of(t)) {
                if (fd.desc() instanceof PtyMasterHandler.PtyMaster m) {
                    Key k = new Key(m.instance(), m.index());
                    (m.instance() == 0 || m.maker() == 0 ? masters
                            : hub.waiting.computeIfAbsent(m.maker(), x -> new TreeMap<>())).putIfAbsent(k, fd);
                } else if (fd.desc() instanceof PtySlaveHandler.PtySlave s && s.hungUp()) {
                    (s.instance() == 0 || s.maker() == 0 ? hungUp
                            : hub.hungUpWaiting.computeIfAbsent(s.maker(), x -> new TreeMap<>()))
                            .putIfAbsent(new Key(s.instance(), s.index()), s);
                }
            }
        }
        if (masters.isEmpty() && hungUp.isEmpty()) {
            return hub;
        }
        // restores running side by side in one cryo (an agent) must not take each other's indexes
        synchronized (PtyHub.class) {
            return hub.reopenAll(masters, "", warn).openHungUp(hungUp, "", warn);
        }
    }

    /**
     * A pair for each hung-up pty, at its dumped index when that is free (its slaves' links show it); {@code root}
     * reaches the view of the maker of an instance of the tree's own, which is new: every index is free.
     */
    private PtyHub openHungUp(Map<Key, PtySlaveHandler.PtySlave> ptys, String root, Consumer<String> warn) {
        return withSpares(spare -> {
            for (Map.Entry<Key, PtySlaveHandler.PtySlave> e : ptys.entrySet()) {
                int index = e.getKey().index();
                String nodes = e.getKey().instance() == 0 ? "/dev/pts" : root + e.getValue().mount();
                Fd master = openIndex(e.getKey().instance() == 0 ? "/dev/ptmx" : nodes + "/ptmx", O_RDWR | O_CLOEXEC, index,
                        e.getKey().instance() == 0 ? TRIES : index + 1, spare);
                Terminals.locked(master, false);
                hungUp.put(e.getKey(), master);
                if (Terminals.index(master) != index) {
                    warn.accept("hung-up pseudo-terminal " + nodes + "/" + index + " is in use on this host: its slaves are"
                            + " restored as hung-up " + nodes + "/" + Terminals.index(master));
                }
            }
        });
    }

    /**
     * Runs {@code open} with a list for the lower masters it opens on the way to an index (closed once
     * it is done); on a failure every pair made so far is closed too.
     */
    private PtyHub withSpares(Consumer<List<Fd>> open) {
        List<Fd> spare = new ArrayList<>();
        try {
            open.accept(spare);
        } catch (RuntimeException e) {
            close();
            throw e;
        } finally {
            spare.forEach(Fd::close);
        }
        return this;
    }

    /**
     * ADOPT of {@code pid}, once it made its mounts again: the pairs of the devpts instances
     * mounted in the mount namespace it made, through its root.
     */
    public synchronized void openInstancesOf(int pid) {
        Map<Key, FdImage> mine = waiting.remove(pid);
        if (mine != null) {
            reopenAll(mine, "/proc/" + pid + "/root", w -> { });
        }
        Map<Key, PtySlaveHandler.PtySlave> hung = hungUpWaiting.remove(pid);
        if (hung != null) {
            openHungUp(hung, "/proc/" + pid + "/root", w -> { });
        }
    }

    /** {@code root}: the prefix that reaches the maker's view of its mounts ("" for cryo's own). */
    private PtyHub reopenAll(Map<Key, FdImage> masters, String root, Consumer<String> warn) {
        return withSpares(spare -> {
            for (FdImage fd : masters.values()) { // an instance's pairs after another's: its spares are its own
                PtyMasterHandler.PtyMaster m = (PtyMasterHandler.PtyMaster) fd.desc();
                String nodes = m.instance() == 0 ? "/dev/pts" : root + m.mount();
                Pair p = reopen(m, fd.flags() & ~O_CLOEXEC, nodes, spare);
                if (p.index() != m.index()) {
                    warn.accept("pseudo-terminal " + nodes + "/" + m.index() + " is in use on this host: its pair is"
                            + " restored as " + nodes + "/" + p.index());
                }
                pairs.put(new Key(m.instance(), m.index()), p);
            }
        });
    }

    private Pair reopen(PtyMasterHandler.PtyMaster m, int flags, String nodes, List<Fd> spare) {
        int tries = m.instance() == 0 ? TRIES : m.index() + 1; // an instance of the tree's is new: all free
        Fd got = openIndex(ptmx(m, nodes), flags, m.index(), tries, spare);
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
        Sys.chownChmod(nodes + "/" + index, m.slaveUid(), m.slaveGid(), m.slaveMode());
        return new Pair(m, got, index, nodes);
    }

    /**
     * A master of pty {@code wanted} opened through {@code ptmx}, or of the first index the kernel gave
     * when another holds it; the lower ones opened meanwhile go to {@code spare}, kept open until all
     * pairs are made (the kernel gives the lowest free index).
     */
    private static Fd openIndex(String ptmx, int flags, int wanted, int tries, List<Fd> spare) {
        Fd first = null;
        Fd got = null;
        for (int i = 0; i < tries && got == null; i++) {
            Fd fd = Terminals.openPtmx(ptmx, flags);
            int index = Terminals.index(fd);
            if (index == wanted) {
                got = fd;
            } else if (first == null) {
                first = fd;
            } else {
                spare.add(fd);
            }
            if (index > wanted) {
                break; // the dumped index is held by someone else
            }
        }
        if (got == null) {
            return first;
        }
        if (first != null) {
            spare.add(first);
        }
        return got;
    }

    /**
     * The ptmx to open the pair of {@code m} through: the one its master was opened through (its
     * link shows it: /dev/ptmx, an lxc container's bind of pts/ptmx there, or the devpts's own
     * ptmx), when that still reaches its instance, else the instance's default.
     */
    private static String ptmx(PtyMasterHandler.PtyMaster m, String nodes) {
        String root = m.instance() == 0 ? "" : nodes.substring(0, nodes.length() - m.mount().length());
        String usual = m.instance() == 0 ? "/dev/ptmx" : nodes + "/ptmx";
        String dumped = root + m.path();
        if (m.path().isEmpty() || !m.path().startsWith("/") || dumped.equals(usual)
                || !dev.cryo.engine.files.Ptys.isMasterTarget(m.path())) {
            return usual;
        }
        try (Fd probe = Terminals.openPtmx(dumped, O_RDWR | O_NONBLOCK | O_CLOEXEC);
             Fd peer = Terminals.peer(probe, dev.cryo.kernel.Fcntl.O_PATH | O_CLOEXEC)) {
            Object its = java.nio.file.Files.getAttribute(java.nio.file.Path.of("/proc/self/fd/" + peer.value()), "unix:dev");
            Object instance = java.nio.file.Files.getAttribute(java.nio.file.Path.of(nodes, "ptmx"), "unix:dev");
            return its.equals(instance) ? dumped : usual;
        } catch (RuntimeException | java.io.IOException e) {
            return usual; // gone, or not a ptmx here any more
        }
    }

    /** cryo's fd of the reopened master of dumped pty {@code index} of devpts {@code instance} (0: the host's). */
    public synchronized int master(long instance, int index) {
        Key k = new Key(instance, index);
        if (!claimed.add(k)) {
            throw new RestoreException("the master of pty " + index + " is restored twice");
        }
        return pair(k).master().value();
    }

    /**
     * A new open file of the slave of dumped pty {@code index} of devpts {@code instance} with
     * {@code flags}; cryo keeps its copy until {@link #close}.
     */
    public synchronized int slave(long instance, int index, int flags) {
        Fd s = Terminals.peer(pair(new Key(instance, index)).master(), flags);
        slaves.add(s);
        return s.value();
    }

    /**
     * The reopened pair that is session {@code sid}'s controlling terminal, number {@code index} in
     * its instance (one whose session was recorded, else the host's by index, as images before
     * PtyMaster version 2 say), or null: a terminal cryo cannot give back.
     */
    public synchronized Terminal controllingTerminalOf(int sid, int index) {
        Key host = null;
        for (Map.Entry<Key, Pair> e : pairs.entrySet()) {
            PtyMasterHandler.PtyMaster m = e.getValue().image();
            if (m.index() == index && m.session() == sid) {
                return new Terminal(e.getKey().instance(), index, e.getValue().nodes() + "/" + e.getValue().index());
            }
            if (m.index() == index && m.instance() == 0 && m.session() == 0) {
                host = e.getKey();
            }
        }
        for (Map<Key, FdImage> w : waiting.values()) {
            for (FdImage fd : w.values()) {
                PtyMasterHandler.PtyMaster m = (PtyMasterHandler.PtyMaster) fd.desc();
                if (m.index() == index && m.session() == sid) {
                    throw new RestoreException("pseudo-terminal " + m.mount() + "/" + index + ", the controlling terminal"
                            + " of session " + sid + ", is of a devpts instance not mounted again yet (by pid " + m.maker()
                            + ", which is not an ancestor of the session's leader)");
                }
            }
        }
        return host == null ? null : new Terminal(0, index, "/dev/pts/" + pairs.get(host).index());
    }

    /** A new open file with {@code flags} of the slave standing for hung-up host pty {@code index}; cryo keeps a copy until {@link #close}. */
    public synchronized int hungUpSlave(long instance, int index, int flags) {
        Fd master = hungUp.get(new Key(instance, index));
        if (master == null) {
            throw new RestoreException("hung-up pseudo-terminal /dev/pts/" + index + " was not made");
        }
        Fd s = Terminals.peer(master, flags);
        slaves.add(s);
        return s.value();
    }

    /** A reopened pair as a controlling terminal: its instance and dumped index, its slave's path now (for messages). */
    public record Terminal(long instance, int index, String slavePath) {}

    private Pair pair(Key k) {
        Pair p = pairs.get(k);
        if (p == null) {
            throw new RestoreException("pseudo-terminal " + k.index() + (k.instance() == 0 ? "" : " of devpts instance "
                    + dev.cryo.engine.files.Ptys.device(k.instance())) + " was not reopened");
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
        hungUp.values().forEach(Fd::close); // the last close of such a master hangs up the tasks' slaves
        hungUp.clear();
    }
}
