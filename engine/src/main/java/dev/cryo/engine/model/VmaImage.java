package dev.cryo.engine.model;

import dev.cryo.engine.memory.MemoryKind;

/**
 * One mapping, of one {@link MemoryKind}. Page contents live in PAGES chunks keyed by pid and address; this record says how
 * many were written and how many were zero (recorded, not written). {@code advice}: madvise and
 * lock state from smaps' VmFlags, bits of {@link dev.cryo.engine.memory.VmAdvice}.
 */
public record VmaImage(long start, long end, int prot, int flags, long offset, MemoryKind kind, FileRef file,
                       long dumpedPages, long zeroPages, int advice) {
    public static final int PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
    public static final int MAP_SHARED = 0x01, MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20, MAP_GROWSDOWN = 0x100;

    /** A mapping with no advice or locks. */
    public VmaImage(long start, long end, int prot, int flags, long offset, MemoryKind kind, FileRef file,
                    long dumpedPages, long zeroPages) {
        this(start, end, prot, flags, offset, kind, file, dumpedPages, zeroPages, 0);
    }

    public long pages() {
        return (end - start) / 4096;
    }

    public VmaImage withPages(long dumped, long zero) {
        return new VmaImage(start, end, prot, flags, offset, kind, file, dumped, zero, advice);
    }
}
