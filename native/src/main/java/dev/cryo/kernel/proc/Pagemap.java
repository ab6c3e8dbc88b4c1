package dev.cryo.kernel.proc;

/**
 * Decoding of the 64-bit /proc/PID/pagemap entries (Documentation/admin-guide/mm/pagemap.rst).
 * One entry per virtual page, at file offset {@code (address / 4096) * 8}. PFNs read as 0 without
 * CAP_SYS_ADMIN.
 */
public final class Pagemap {
    private Pagemap() {}

    public static final int ENTRY_BYTES = 8;
    public static final long PRESENT = 1L << 63;
    public static final long SWAPPED = 1L << 62;
    /** File page or shared anonymous page. */
    public static final long FILE_OR_SHARED_ANON = 1L << 61;
    /** A guard page (MADV_GUARD_INSTALL): shown as swapped too, but it holds nothing and faults on access. */
    public static final long GUARD = 1L << 58;
    public static final long EXCLUSIVE = 1L << 56;
    public static final long SOFT_DIRTY = 1L << 55;
    public static final long PFN_MASK = (1L << 55) - 1;

    public static boolean present(long entry) {
        return (entry & PRESENT) != 0;
    }

    public static boolean swapped(long entry) {
        return (entry & SWAPPED) != 0;
    }

    public static boolean guard(long entry) {
        return (entry & GUARD) != 0;
    }

    public static boolean fileOrSharedAnon(long entry) {
        return (entry & FILE_OR_SHARED_ANON) != 0;
    }

    public static boolean exclusive(long entry) {
        return (entry & EXCLUSIVE) != 0;
    }

    public static boolean softDirty(long entry) {
        return (entry & SOFT_DIRTY) != 0;
    }

    /** Page frame number (bits 0-54) when present. */
    public static long pfn(long entry) {
        return entry & PFN_MASK;
    }

    /** Swap type (bits 0-4) when swapped. */
    public static int swapType(long entry) {
        return (int) (entry & 0x1f);
    }

    /** Swap offset (bits 5-54) when swapped. */
    public static long swapOffset(long entry) {
        return (entry & PFN_MASK) >>> 5;
    }

    /** Byte offset in the pagemap file of the entry for {@code address}; addresses are unsigned. */
    public static long fileOffset(long address) {
        return Long.divideUnsigned(address, MapsEntry.PAGE_SIZE) * ENTRY_BYTES;
    }

    /** e.g. "present soft-dirty exclusive pfn 0x1234" for logs. */
    public static String describe(long entry) {
        StringBuilder sb = new StringBuilder();
        if (present(entry)) {
            sb.append("present");
        } else if (swapped(entry)) {
            sb.append("swapped type ").append(swapType(entry)).append(" offset 0x")
                    .append(Long.toHexString(swapOffset(entry)));
        } else {
            sb.append("not present");
        }
        if (fileOrSharedAnon(entry)) {
            sb.append(" file/shared");
        }
        if (exclusive(entry)) {
            sb.append(" exclusive");
        }
        if (softDirty(entry)) {
            sb.append(" soft-dirty");
        }
        if (present(entry)) {
            sb.append(" pfn 0x").append(Long.toHexString(pfn(entry)));
        }
        return sb.toString();
    }
}
