package dev.cryo.engine.restore.stage;

import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.memory.VdsoArea;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.ProcFs;

import java.util.List;

/**
 * Moves the kernel's vDSO block ({@code [vvar]}, {@code [vvar_vclock]}, {@code [vdso]}) to the
 * dumped addresses, keeping the areas' relative order; through a parking place so that no move
 * lands on an area not moved yet. An area the dumped task no longer had is unmapped. The moves are
 * queued ({@link TaskContext#later}) with the memory stage's other calls: one call by one they
 * were 12 of a migrated task's 15 ptrace round trips there, each waiting for a CPU in the downtime.
 */
final class VdsoMove {
    private static final int MREMAP_MAYMOVE = 1, MREMAP_FIXED = 2;

    private VdsoMove() {}

    static void run(TaskContext t) {
        List<MapsEntry> now = ProcFs.maps(t.pid()).stream().filter(m -> m.isVdso() || m.isVvar()).toList();
        List<VmaImage> dumped = t.task().vmas().stream().filter(v -> v.kind() instanceof VdsoArea).toList();
        // an area the dumped task had unmapped (valgrind unmaps its guest's [vdso]) goes here too, and so
        // does the whole block where it had none left (zdtm's vdso02, a kernel booted with vdso=0)
        List<String> kept = dumped.stream().map(VdsoMove::pathOf).toList();
        for (MapsEntry m : now) {
            if (!kept.contains(m.path())) {
                t.later("munmap(" + m.path() + ")", SyscallNr.MUNMAP, m.start(), m.size());
            }
        }
        if (dumped.isEmpty()) {
            return;
        }
        now = now.stream().filter(m -> kept.contains(m.path())).toList();
        if (now.size() != dumped.size()) {
            throw differs(now);
        }
        long parking = t.boot().vdsoParking();
        long[] parked = new long[now.size()];
        for (int i = 0; i < now.size(); i++) {
            MapsEntry m = now.get(i);
            VmaImage d = dumped.get(i);
            if (!m.path().equals(pathOf(d)) || m.size() != d.end() - d.start()) {
                throw differs(now);
            }
            // MREMAP_FIXED puts it at the parking place or fails (the flush says which call)
            t.later("mremap(" + m.path() + ")", SyscallNr.MREMAP, m.start(), m.size(), m.size(),
                    MREMAP_MAYMOVE | MREMAP_FIXED, parking);
            parked[i] = parking;
            parking += m.size();
        }
        for (int i = 0; i < now.size(); i++) {
            VmaImage d = dumped.get(i);
            t.later("mremap(" + pathOf(d) + ")", SyscallNr.MREMAP, parked[i], d.end() - d.start(),
                    d.end() - d.start(), MREMAP_MAYMOVE | MREMAP_FIXED, d.start());
        }
    }

    private static RestoreException differs(List<MapsEntry> now) {
        return new RestoreException("the vDSO block here (" + describe(now) + ") differs from the dumped one: "
                + "restore on a machine with the same kernel");
    }

    private static String pathOf(VmaImage v) {
        return ((VdsoArea) v.kind()).path();
    }

    private static String describe(List<MapsEntry> areas) {
        return String.join(", ", areas.stream().map(m -> m.path() + " " + m.pages() + " pages").toList());
    }
}
