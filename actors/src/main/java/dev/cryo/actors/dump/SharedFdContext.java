package dev.cryo.actors.dump;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.dump.GhostFiles;
import dev.cryo.engine.dump.SharedMemoryClaims;
import dev.cryo.engine.files.FdHandler;
import dev.cryo.engine.files.FdProbe;
import dev.cryo.engine.files.SocketDumpState;
import dev.cryo.kernel.Sys;

import java.util.ArrayList;
import java.util.List;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** The fd state all task dumpers of one dump share (they run in parallel). */
final class SharedFdContext implements FdHandler.DumpContext {
    private final Set<Long> pipesWithData = ConcurrentHashMap.newKeySet();
    private final boolean shellJob;
    private final Set<Integer> tree;

    /** {@code tree}: the pids of the dumped tree, zombies included. */
    private final SocketDumpState sockets;

    private final dev.cryo.engine.files.TakenTtyBytes ttyBytes;

    SharedFdContext(boolean shellJob, Set<Integer> tree, SocketDumpState sockets,
                    dev.cryo.engine.files.TakenTtyBytes ttyBytes, long ghostLimit,
                    dev.cryo.engine.dump.SharedTables tables, java.util.Map<FdProbe.Ref, Integer> queuedAtFreeze,
                    dev.cryo.engine.dump.LandlockWitnesses landlock) {
        this.shellJob = shellJob;
        this.landlock = landlock;
        this.queuedAtFreeze = java.util.Map.copyOf(queuedAtFreeze);
        this.tables = tables;
        this.tree = Set.copyOf(tree);
        this.sockets = sockets;
        this.ttyBytes = ttyBytes;
        this.mountTables = new dev.cryo.engine.dump.MountTables(tree);
        this.ghostFiles = new GhostFiles(ghostLimit, mountTables);
    }

    private final GhostFiles ghostFiles;
    private final dev.cryo.engine.dump.LandlockWitnesses landlock;

    @Override
    public dev.cryo.engine.dump.LandlockWitnesses landlockWitnesses() {
        return landlock;
    }
    private final java.util.Map<FdProbe.Ref, Integer> queuedAtFreeze;

    @Override
    public Integer queuedAtFreeze(FdProbe.Ref fd) {
        return queuedAtFreeze.get(fd);
    }
    private final dev.cryo.engine.dump.SharedTables tables;

    @Override
    public dev.cryo.engine.dump.SharedTables tables() {
        return tables;
    }

    @Override
    public GhostFiles ghostFiles() {
        return ghostFiles;
    }

    @Override
    public SocketDumpState sockets() {
        return sockets;
    }

    @Override
    public dev.cryo.engine.files.TakenTtyBytes ttyBytes() {
        return ttyBytes;
    }

    private final dev.cryo.engine.files.PtyEnds ptyEnds = new dev.cryo.engine.files.PtyEnds();

    @Override
    public dev.cryo.engine.files.PtyEnds ptyEnds() {
        return ptyEnds;
    }

    private dev.cryo.engine.files.OpenFiles openFiles;
    private final dev.cryo.engine.dump.MountTables mountTables;

    /** Read once per dump: cryo's own mounts do not change under a dump. */
    @Override
    public Set<Integer> cryosMountIds() {
        return mountTables.cryos();
    }

    /** Read once per namespace and dump: the tree is frozen. */
    @Override
    public dev.cryo.engine.dump.MountTables mountTables() {
        return mountTables;
    }

    @Override
    public synchronized FdProbe.Ref treeOwner(FdProbe probe) {
        scanOpenFiles();
        return openFiles.find(probe.pid(), probe.fd());
    }

    /** Scanned once, by the first task dumper that asks, while the whole tree is frozen. */
    @Override
    public synchronized FdProbe.Ref sharedOwner(FdProbe fd) {
        scanOpenFiles();
        return openFiles.owner(fd.ref());
    }

    private void scanOpenFiles() {
        if (openFiles == null) {
            // a table shared with a parent is scanned once, with the task that carries it
            openFiles = dev.cryo.engine.files.OpenFiles.scan(tree.stream().filter(p -> tables.fdTableOwner(p) == p)
                    .map(dev.cryo.kernel.Pid::of).toList());
        }
    }

    @Override
    public boolean inTree(int pid) {
        if (tree.contains(pid)) {
            return true;
        }
        try { // a thread's tid: its process must be in the tree
            return tree.contains(dev.cryo.kernel.proc.ProcFs.status(dev.cryo.kernel.Pid.of(pid)).tgid());
        } catch (RuntimeException e) {
            return false;
        }
    }

    @Override
    public boolean claimPipeData(long pipeId) {
        return pipesWithData.add(pipeId);
    }

    private final java.util.Map<Long, String> detachedMounts = new ConcurrentHashMap<>();

    @Override
    public String claimDetachedMount(long mountId, String where) {
        return detachedMounts.putIfAbsent(mountId, where);
    }

    private final SharedMemoryClaims sharedMemory = new SharedMemoryClaims(this::treePids);

    @Override
    public java.util.Collection<Integer> treePids() {
        return tree;
    }

    @Override
    public SharedMemoryClaims sharedMemory() {
        return sharedMemory;
    }

    @Override
    public boolean shellJob() {
        return shellJob;
    }

    private final List<FdProbe> unshared = new ArrayList<>();

    @Override
    public synchronized void requireUnshared(FdProbe fd, String kind) {
        for (FdProbe other : unshared) {
            if (!other.pid().equals(fd.pid()) && Sys.sameOpenFile(other.pid(), other.fd(), fd.pid(), fd.fd())) {
                throw new DumpException(other.where() + " and " + fd.where() + " share one " + kind
                        + ": one " + kind + " shared by several processes is not supported yet");
            }
        }
        unshared.add(fd);
    }
}
