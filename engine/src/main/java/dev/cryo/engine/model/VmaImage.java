package dev.cryo.engine.model;

import dev.cryo.engine.memory.MemoryKind;

/**
 * One mapping, of one {@link MemoryKind}. Page contents live in PAGES chunks keyed by pid and address; this record says how
 * many were written and how many were zero (recorded, not written). {@code advice}: madvise and
 * lock state from smaps' VmFlags, bits of {@link dev.cryo.engine.memory.VmAdvice}. {@code inherited}: the
 * pages the task shared copy-on-write with its parent (one frame at the same address, since a fork), as
 * pairs (address, pages); see {@link dev.cryo.engine.memory.ParentSharing}. {@code seals}: a shared memfd's
 * seals (F_GET_SEALS; version 3), which no fd of the tree may hold; -1 for any other mapping.
 */
public record VmaImage(long start, long end, int prot, int flags, long offset, MemoryKind kind, FileRef file,
                       long dumpedPages, long zeroPages, int advice, long[] guards, long[] inherited, int seals) {
    public static final int PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
    public static final int MAP_SHARED = 0x01, MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20, MAP_GROWSDOWN = 0x100,
            MAP_NORESERVE = 0x4000;

    public VmaImage {
        guards = guards.clone();
        inherited = inherited.clone();
    }

    public VmaImage(long start, long end, int prot, int flags, long offset, MemoryKind kind, FileRef file,
                    long dumpedPages, long zeroPages, int advice, long[] guards, long[] inherited) {
        this(start, end, prot, flags, offset, kind, file, dumpedPages, zeroPages, advice, guards, inherited, -1);
    }

    public VmaImage(long start, long end, int prot, int flags, long offset, MemoryKind kind, FileRef file,
                    long dumpedPages, long zeroPages, int advice, long[] guards) {
        this(start, end, prot, flags, offset, kind, file, dumpedPages, zeroPages, advice, guards, new long[0]);
    }

    /** A mapping without guard pages. */
    public VmaImage(long start, long end, int prot, int flags, long offset, MemoryKind kind, FileRef file,
                    long dumpedPages, long zeroPages, int advice) {
        this(start, end, prot, flags, offset, kind, file, dumpedPages, zeroPages, advice, new long[0]);
    }

    /** Guard pages (MADV_GUARD_INSTALL) of the mapping, as pairs (address, pages). */
    @Override
    public long[] guards() {
        return guards.clone();
    }

    /** Pages shared with the parent at dump, as pairs (address, pages). */
    @Override
    public long[] inherited() {
        return inherited.clone();
    }

    /** How many pages the task shared with its parent in this mapping. */
    public long inheritedPages() {
        long n = 0;
        for (int i = 1; i < inherited.length; i += 2) {
            n += inherited[i];
        }
        return n;
    }

    public VmaImage withInherited(long[] runs) {
        return new VmaImage(start, end, prot, flags, offset, kind, file, dumpedPages, zeroPages, advice, guards, runs, seals);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VmaImage v && start == v.start && end == v.end && prot == v.prot && flags == v.flags
                && offset == v.offset && kind == v.kind && java.util.Objects.equals(file, v.file)
                && dumpedPages == v.dumpedPages && zeroPages == v.zeroPages && advice == v.advice
                && java.util.Arrays.equals(guards, v.guards) && java.util.Arrays.equals(inherited, v.inherited)
                && seals == v.seals;
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(start, end, prot, flags, offset, kind, file, dumpedPages, zeroPages, advice, seals)
                * 31 + java.util.Arrays.hashCode(guards) * 17 + java.util.Arrays.hashCode(inherited);
    }

    public VmaImage withGuards(long[] runs) {
        return new VmaImage(start, end, prot, flags, offset, kind, file, dumpedPages, zeroPages, advice, runs, inherited, seals);
    }

    /** A mapping with no advice or locks. */
    public VmaImage(long start, long end, int prot, int flags, long offset, MemoryKind kind, FileRef file,
                    long dumpedPages, long zeroPages) {
        this(start, end, prot, flags, offset, kind, file, dumpedPages, zeroPages, 0);
    }

    public long pages() {
        return (end - start) / 4096;
    }

    public VmaImage withPages(long dumped, long zero) {
        return new VmaImage(start, end, prot, flags, offset, kind, file, dumped, zero, advice, guards, inherited, seals);
    }

    /** This mapping of a shared memfd with its seals. */
    public VmaImage withSeals(int s) {
        return new VmaImage(start, end, prot, flags, offset, kind, file, dumpedPages, zeroPages, advice, guards, inherited, s);
    }
}
