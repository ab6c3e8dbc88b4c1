package dev.cryo.engine.restore;

import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.files.PipeHandler;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.kernel.LocalPipe;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One cryo-held pipe per dumped pipe, holding the bytes that sat in it. Every restored end opens
 * it through /proc, so ends in different tasks are joined again; FIFOs are opened by their path,
 * cryo holding them open meanwhile; a FIFO whose node was deleted is made again, held open and
 * unlinked at once ({@link DeletedFifo}), its ends opened through cryo's fd like a pipe's. Closed once
 * all tasks have their ends (the FILES barrier).
 */
public final class PipeHub implements AutoCloseable {
    private final Map<Long, LocalPipe> pipes = new java.util.concurrent.ConcurrentHashMap<>();
    /** FIFOs by their path, opened when their first holder asks: its mount namespace is made by then. */
    private final Map<Long, PipeHandler.Pipe> inTasksView = new LinkedHashMap<>();

    /**
     * Opens and fills FIFO {@code pipeId} the first time a holder, task {@code pid}, restores it: as
     * that task sees it when it is in a mount namespace of its own and its node there is the dumped
     * inode, or cryo finds none at the path or another FIFO (a FIFO of a container's tmpfs, which may
     * cover a host FIFO at that very path, whose bytes went there before); else as cryo sees it (a
     * FIFO the task opened on a host mount before it pivoted).
     */
    public synchronized void ready(long pipeId, int pid) {
        PipeHandler.Pipe p = inTasksView.remove(pipeId);
        if (p == null) {
            return;
        }
        dev.cryo.kernel.Pid task = dev.cryo.kernel.Pid.of(pid);
        long mine = inode(p.fifoPath());
        boolean own = dev.cryo.engine.files.RegularFileHandler.inOtherMountNamespace(pid);
        long theirs = own ? dev.cryo.kernel.Namespaces.seenBy(task, () -> inode(p.fifoPath())) : mine;
        boolean inTheirs = mine < 0 || own && (theirs == pipeId || mine != pipeId && theirs >= 0);
        pipes.put(pipeId, inTheirs ? dev.cryo.kernel.Namespaces.seenBy(task, () -> LocalPipe.fifo(p.fifoPath(), p.data(),
                p.size(), p.packetLengths())) : LocalPipe.fifo(p.fifoPath(), p.data(), p.size(), p.packetLengths()));
    }

    private static long inode(String path) {
        try {
            return ((Number) java.nio.file.Files.getAttribute(java.nio.file.Path.of(path), "unix:ino")).longValue();
        } catch (java.io.IOException | RuntimeException e) {
            return -1;
        }
    }

    public static PipeHub of(List<TaskImage> tasks) {
        return of(tasks, null, n -> { });
    }

    /**
     * As above; an anonymous pipe of which the tree held only one kind of end had its other end
     * outside the tree: joined again to the very pipe while an outside process dumped on this
     * host and boot ({@code info}) still holds it ({@link OutsidePipeEnds}), else made anew and
     * named in a warning (its reader or writer is gone).
     */
    public static PipeHub of(List<TaskImage> tasks, dev.cryo.engine.model.DumpInfo info,
                             java.util.function.Consumer<String> warn) {
        return of(tasks, info, InheritedFds.NONE, warn);
    }

    /**
     * As above; a pipe the user hands over ({@code --inherit-fd fd[N]:pipe:[INODE]}) is that fd's
     * pipe, whatever held the dumped one, and the bytes that sat in the dumped one are dropped
     * with a warning (they were its reader's, and that reader is not there).
     */
    public static PipeHub of(List<TaskImage> tasks, dev.cryo.engine.model.DumpInfo info, InheritedFds inherited,
                             java.util.function.Consumer<String> warn) {
        Map<Long, PipeHandler.Pipe> withData = new LinkedHashMap<>();
        Map<Long, java.util.Set<Boolean>> ends = new LinkedHashMap<>();
        Map<Long, String> holderOf = new LinkedHashMap<>();
        for (TaskImage t : tasks) {
            for (FdImage fd : dev.cryo.engine.files.InFlightFiles.of(t)) {
                if (fd.desc() instanceof PipeHandler.Pipe p) {
                    ends.computeIfAbsent(p.pipeId(), k -> new java.util.HashSet<>()).add(p.readEnd());
                    holderOf.putIfAbsent(p.pipeId(), "pid " + t.pid() + " fd " + fd.fd());
                    PipeHandler.Pipe have = withData.get(p.pipeId());
                    if (have == null || (have.data().length == 0 && have.size() == 0)) {
                        withData.put(p.pipeId(), p);
                    }
                }
            }
        }
        Map<Long, InheritedFds.Source> given = new LinkedHashMap<>();
        withData.forEach((id, p) -> {
            InheritedFds.Source s = inherited.of(p);
            if (s != null) {
                given.put(id, s);
            }
        });
        java.util.Set<Long> oneSided = new java.util.LinkedHashSet<>();
        withData.forEach((id, p) -> {
            if (p.fifoPath().isEmpty() && ends.get(id).size() == 1 && !given.containsKey(id)) {
                oneSided.add(id);
            }
        });
        boolean sameHost = !oneSided.isEmpty() && info != null && info.hostname().equals(dev.cryo.engine.HostName.get());
        Map<Long, String> outside = sameHost ? OutsidePipeEnds.find(oneSided, info.createdEpochMillis(), OutsidePipeEnds.Near.of(tasks)) : Map.of();
        PipeHub hub = new PipeHub();
        try {
            withData.forEach((id, p) -> {
                if (given.containsKey(id)) {
                    if (p.data().length > 0) {
                        warn.accept(holderOf.get(id) + ": " + p.data().length + " unread bytes of the dumped "
                                + dev.cryo.engine.files.FdHandlers.inheritName(p) + " are dropped: --inherit-fd gives another in its stead");
                    }
                    hub.pipes.put(id, LocalPipe.fifo(given.get(id).procPath(), new byte[0], 0));
                    return;
                }
                if (outside.containsKey(id)) { // the live pipe: its bytes are in it still
                    hub.pipes.put(id, LocalPipe.fifo(outside.get(id), new byte[0], 0));
                    return;
                }
                if (oneSided.contains(id)) {
                    boolean hasReader = ends.get(id).contains(true);
                    // a pipe whose other end was closed looks the same (make's end-of-file stdin for its jobs)
                    String end = hasReader ? "writer" : "reader";
                    warn.accept(holderOf.get(id) + ": pipe:[" + id + "] had no " + end + " in the tree (closed, or held"
                            + " outside it), and no process here holds that pipe now: it comes back without a " + end + " ("
                            + (hasReader ? "reads see end of file" : "a write raises SIGPIPE") + ")");
                }
                if (!p.fifoPath().isEmpty() && p.deleted() == null) {
                    hub.inTasksView.put(id, p); // its node may be in a mount namespace not made yet
                    return;
                }
                hub.pipes.put(id, p.fifoPath().isEmpty() ? LocalPipe.create(p.data(), p.size(), p.packetLengths())
                        : p.deleted() != null ? DeletedFifo.open(p) : LocalPipe.fifo(p.fifoPath(), p.data(), p.size(),
                        p.packetLengths()));
            });
        } catch (RuntimeException e) {
            hub.close();
            throw e;
        }
        return hub;
    }

    private final java.util.Set<String> claimed = new java.util.HashSet<>();

    /**
     * cryo's own fd of the pipe's end the first time any task asks (it then takes that very open
     * file, which keeps pipe()'s flags), -1 after; FIFOs are always reopened by their path.
     */
    public synchronized int claim(long pipeId, boolean readEnd) {
        LocalPipe p = pipes.get(pipeId);
        if (p == null || p.isFifo() || !claimed.add(pipeId + (readEnd ? "r" : "w"))) {
            return -1;
        }
        return p.fd(readEnd);
    }

    /** A task's open of FIFO {@code pipeId} for reading (see {@link LocalPipe#openingReader}). */
    public long openingFifoReader(long pipeId, boolean hungUp, java.util.function.LongSupplier open) {
        LocalPipe p = pipes.get(pipeId);
        if (p == null) {
            throw new IllegalStateException("pipe " + pipeId + " was not prepared");
        }
        return p.openingReader(hungUp, open::getAsLong);
    }

    public String path(long pipeId, boolean readEnd) {
        LocalPipe p = pipes.get(pipeId);
        if (p == null) {
            throw new IllegalStateException("pipe " + pipeId + " was not prepared");
        }
        return p.procPath(readEnd);
    }

    @Override
    public void close() {
        pipes.values().forEach(LocalPipe::close);
        pipes.clear();
    }
}
