package dev.cryo.engine.memory;

import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.SyscallNr;

import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.SmapsEntry;

import java.util.function.Predicate;

/**
 * Private anonymous memory: plain, the heap, a stack. Present and swapped pages are carried; the
 * rest reads zero after restore as before.
 */
public final class AnonymousMemory extends MemoryKind {
    private final Predicate<MapsEntry> which;

    AnonymousMemory(int id, String name, Predicate<MapsEntry> which) {
        super(id, name);
        this.which = which;
    }

    @Override
    public boolean matches(MapsEntry m, SmapsEntry s) {
        return !m.shared() && m.isAnonymous() && which.test(m);
    }

    @Override
    public void planPages(PageScan scan) {
        scan.presentPages();
    }

    /**
     * Whether {@code v} borders {@code prev} as an area the kernel would merge into it at mmap though
     * the program had them apart (a .bss of pages of its own and the brk heap right after it, laid
     * out without randomization): both plain private anonymous, alike, written, with pages. The
     * kernel keeps two such areas apart only while they have different anon_vmas, i.e. pages of each.
     */
    public static boolean keptApart(VmaImage prev, VmaImage v) {
        return prev != null && prev.end() == v.start() && plain(prev) && plain(v) && prev.prot() == v.prot()
                && prev.flags() == v.flags() && prev.advice() == v.advice() && prev.dumpedPages() > 0
                && v.dumpedPages() > 0 && (v.prot() & VmaImage.PROT_WRITE) != 0
                && (v.advice() & (VmAdvice.ACCOUNTED | VmAdvice.NORESERVE)) == VmAdvice.ACCOUNTED;
    }

    private static boolean plain(VmaImage v) {
        return v.kind() == MemoryKinds.ANON || v.kind() == MemoryKinds.HEAP;
    }

    /**
     * Maps such an area inaccessible, so it does not merge with the one before; its pages go in
     * through /proc/PID/mem, and {@link #protectApart} gives its protection once they are in (the
     * kernel charges it for writing then, as it was).
     */
    public static void mapApart(TaskContext t, VmaImage v) {
        t.later("mmap(0x" + Long.toHexString(v.start()) + ", apart from the area before)", SyscallNr.MMAP, v.start(),
                v.end() - v.start(), 0 /* PROT_NONE */, Mapper.flags(v) | Mapper.MAP_ANONYMOUS, -1, 0);
    }

    /** The protection of an area {@link #mapApart} mapped: two areas with pages of their own stay apart. */
    public static void protectApart(TaskContext t, VmaImage v) {
        for (long[] piece : Mapper.pieces(v, v.prot())) {
            t.later("mprotect(0x" + Long.toHexString(piece[0]) + ", apart)", SyscallNr.MPROTECT, piece[0],
                    piece[1] - piece[0], v.prot());
        }
    }
}
