package dev.cryo.engine.restore.stage;

import dev.cryo.engine.memory.AnonymousMemory;
import dev.cryo.engine.memory.NumaPolicies;
import dev.cryo.engine.memory.ParentSharing;
import dev.cryo.engine.memory.VmAdvice;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.restore.PreparedRoot;
import dev.cryo.engine.restore.SharedMemoryHub;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.ProcFs;

import java.util.ArrayList;
import java.util.List;

/**
 * MEMORY: unmaps the stub, moves the vDSO block and maps every dumped VMA through its kind
 * (writable where cryo writes pages); page contents are written by others in between
 * {@link #map} and {@link #protect}, which sets the final protections. The areas' NUMA policies, and the main
 * thread's, are set once they are mapped ({@link NumaPolicies}).
 */
public final class MemoryMapping {
    private MemoryMapping() {}

    public static void map(TaskContext t, SharedMemoryHub shared) {
        map(t, shared, List.of());
    }

    /**
     * {@code inherited}: the task's areas it keeps as its parent's fork gave them
     * ({@link ParentSharing#plan}), with the pages they share.
     */
    public static void map(TaskContext t, SharedMemoryHub shared, List<VmaImage> inherited) {
        PreparedRoot prepared = t.prepared();
        List<long[]> kept = new ArrayList<>(prepared == null ? List.of() : prepared.kept(t.task().vmas()));
        inherited.forEach(v -> kept.add(new long[] {v.start(), v.end()}));
        kept.sort(java.util.Comparator.comparingLong(k -> k[0]));
        java.util.Set<Long> keptFromParent = new java.util.HashSet<>();
        inherited.forEach(v -> keptFromParent.add(v.start()));
        for (MapsEntry m : ProcFs.maps(t.pid())) {
            if (m.isVdso() || m.isVvar() || m.isVsyscall() || m.start() == t.boot().address()) {
                continue;
            }
            // areas placed while a migration's pre-copy arrived stay, with their pages
            for (long[] gap : outside(m.start(), m.end(), kept)) {
                t.later("munmap(stub " + m.path() + ")", SyscallNr.MUNMAP, gap[0], gap[1] - gap[0]);
            }
        }
        VdsoMove.run(t);
        VmaImage prev = null;
        for (VmaImage v : t.task().vmas()) {
            if (!v.kind().kernelProvided()) {
                if (keptFromParent.contains(v.start())) {
                    ParentSharing.keep(t, v);
                } else if (prepared != null && prepared.keeps(v)) {
                    // placed while a migration's pre-copy arrived
                } else if (AnonymousMemory.keptApart(prev, v)) {
                    AnonymousMemory.mapApart(t, v);
                    t.keepApart(v.start());
                } else {
                    v.kind().map(t, v, shared);
                }
                VmAdvice.adviseBeforePages(t, v);
            }
            prev = v;
        }
        NumaPolicies.restoreProcess(t, inherited);
        t.flush(); // the page writers come next
    }

    /** The parts of [start, end) outside every range of {@code kept} (sorted, disjoint). */
    static List<long[]> outside(long start, long end, List<long[]> kept) {
        List<long[]> out = new ArrayList<>();
        long at = start;
        for (long[] k : kept) {
            if (k[1] <= at || k[0] >= end) {
                continue;
            }
            if (k[0] > at) {
                out.add(new long[] {at, k[0]});
            }
            at = Math.max(at, k[1]);
        }
        if (at < end) {
            out.add(new long[] {at, end});
        }
        return out;
    }

    /**
     * Before the FILES stage, once every task's memory is protected: the memfds sealed against writing get those
     * seals again (the first task to come), and the areas mapped after such a seal are mapped again.
     */
    public static void mapSealed(TaskContext t, SharedMemoryHub shared) {
        shared.sealAgainstWriting();
        for (VmaImage v : t.task().vmas()) {
            if (!v.kind().kernelProvided()) {
                v.kind().mapSealed(t, v, shared);
            }
        }
        t.flush();
    }

    /** Final protections, once the page writers are done. */
    public static void protect(TaskContext t) {
        for (VmaImage v : t.task().vmas()) {
            if (!v.kind().kernelProvided()) {
                if (t.keptApart(v.start())) {
                    AnonymousMemory.protectApart(t, v);
                }
                v.kind().protect(t, v);
                if (v.kind().locksAfterProtect(v)) {
                    VmAdvice.lockAfterProtect(t, v);
                }
            }
        }
        t.flush();
    }
}
