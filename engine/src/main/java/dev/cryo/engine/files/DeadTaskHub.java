package dev.cryo.engine.files;

import dev.cryo.engine.model.FdImage;
import dev.cryo.engine.model.TaskImage;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.ProcFs;

import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The stand-ins of the reaped tasks the tree's pidfds refer to, made once per restore: one per dead
 * task (pidfs inode), whichever tasks hold its pidfds, so pidfds opened apart — in one task or in
 * several (a supervisor's and a worker's of one reaped sibling, zdtm's pidfd_diffdead) — share it and
 * so their inode again. It is made in the deepest pid namespace of its holders (they all saw the dead
 * task, so that one is theirs or below theirs). Each ends as its task had, and is reaped, at
 * {@link #close}, once every task's files are in place.
 */
public final class DeadTaskHub implements AutoCloseable {
    private final Map<Long, DeadTaskStandIn> live = new LinkedHashMap<>();
    private final Map<Long, List<Integer>> holders = new HashMap<>();
    private final java.util.Set<Integer> treeIds = new java.util.HashSet<>();

    /** For the tree of {@code tasks}, whose fds name the holders of each dead task's pidfds. */
    public DeadTaskHub(Collection<TaskImage> tasks) {
        for (TaskImage t : tasks) {
            treeIds.add(t.pid());
            t.threads().forEach(th -> treeIds.add(th.tid()));
            for (FdImage f : t.fds()) {
                if (f.desc() instanceof PidFdHandler.PidFd p && p.pid() == PidFdHandler.DEAD) {
                    holders.computeIfAbsent(p.deadIno(), k -> new java.util.ArrayList<>()).add(t.pid());
                }
            }
        }
    }

    /**
     * The pid (in cryo's pid namespace) of the stand-in for pidfs inode {@code ino}, started on the first
     * ask, by {@code holder} (a pidfd in flight in a message counts as its receiver's).
     */
    public synchronized int of(long ino, int status, int holder) {
        return live.computeIfAbsent(ino, k -> DeadTaskStandIn.start(status, namespaceOf(ino, holder))).pid().value();
    }

    /** Whether {@code id} is the pid of a task or the id of a thread of the tree (cryo's numbers). */
    public boolean ofTheTree(int id) {
        return treeIds.contains(id);
    }

    /** The holder in the deepest pid namespace, null when that is cryo's. */
    private Pid namespaceOf(long ino, int asking) {
        Pid deepest = Pid.of(asking);
        for (int h : holders.getOrDefault(ino, List.of())) {
            if (ProcFs.status(Pid.of(h)).nsPid().size() > ProcFs.status(deepest).nsPid().size()) {
                deepest = Pid.of(h);
            }
        }
        return SenderStandIns.outsideCryosPidNamespace(deepest) == null ? null : deepest;
    }

    @Override
    public synchronized void close() {
        RuntimeException first = null;
        for (DeadTaskStandIn s : live.values()) {
            try {
                s.close();
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        live.clear();
        if (first != null) {
            throw first;
        }
    }
}
