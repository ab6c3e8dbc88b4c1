package dev.cryo.engine.model;

import dev.cryo.engine.memory.MemoryKind;

/**
 * One mapping, of one {@link MemoryKind}. Page contents live in PAGES chunks keyed by pid and address; this record says how
 * many were written and how many were zero (recorded, not written). {@code advice}: madvise and
 * lock state from smaps' VmFlags, bits of {@link dev.cryo.engine.memory.VmAdvice}.
 */
public record VmaImage(long start, long end, int prot, int flags, long offset, MemoryKind kind, FileRef file,
                       long dumpedPages, long zeroPages, int advice, long[] guards) {
    public static final int PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
    public static final int MAP_SHARED = 0x01, MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20, MAP_GROWSDOWN = 0x100;

    public VmaImage {
        guards = guards.clone();
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

    @Override
    public boolean equals(Object o) {
        return o instanceof VmaImage v && start == v.start && end == v.end && prot == v.prot && flags == v.flags
                && offset == v.offset && kind == v.kind && java.util.Objects.equals(file, v.file)
                && dumpedPages == v.dumpedPages && zeroPages == v.zeroPages && advice == v.advice
                && java.util.Arrays.equals(guards, v.guards);
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(start, end, prot, flags, offset, kind, file, dumpedPages, zeroPages, advice)
                * 31 + java.util.Arrays.hashCode(guards);
    }

    public VmaImage withGuards(long[] runs) {
        return new VmaImage(start, end, prot, flags, offset, kind, file, dumpedPages, zeroPages, advice, runs);
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
        return new VmaImage(start, end, prot, flags, offset, kind, file, dumped, zero, advice, guards);
    }
}
