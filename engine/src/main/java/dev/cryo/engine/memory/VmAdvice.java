package dev.cryo.engine.memory;

import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.SmapsEntry;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The per-mapping advice and locks the kernel shows in smaps' VmFlags, carried as a bit set in
 * {@link VmaImage#advice()} (bits are persisted) and given again on restore: transparent huge
 * page advice (hg/nh), MADV_DONTFORK (dc), MADV_WIPEONFORK (wf), MADV_DONTDUMP (dd), KSM merging
 * (mg), read-ahead advice MADV_SEQUENTIAL (sr) / MADV_RANDOM (rr) before the pages are written; mlock (lo, lf) and mseal (sl) after the final protection.
 * Two more are not advice but how the area was made, and decide how restore maps it: "ac"
 * (VM_ACCOUNT: a private area that was writable at some point is charged against overcommit)
 * and "nr" (MAP_NORESERVE). "mw" (VM_MAYWRITE) on a shared file mapping says its file was open for
 * writing: mapped read-only now, it may be made writable later, so restore opens the file for writing too;
 * "ms" (VM_MAYSHARE) without "sh" (VM_SHARED): the file was open read-only (the kernel then drops both
 * VM_SHARED and VM_MAYWRITE), which tells it from a memfd area made after a seal against writing (no "mw" only).
 */
public final class VmAdvice {
    private VmAdvice() {}

    public static final int HUGEPAGE = 1, NOHUGEPAGE = 2, DONTFORK = 4, WIPEONFORK = 8, DONTDUMP = 16,
            MERGEABLE = 32, LOCKED = 64, LOCKONFAULT = 128, SEALED = 256, ACCOUNTED = 512, NORESERVE = 1024,
            SEQUENTIAL = 2048, RANDOM = 4096, MAYWRITE = 8192, MAYBE_GUARD = 16384, READ_ONLY_FILE = 32768;

    private static final int MADV_RANDOM = 1, MADV_SEQUENTIAL = 2, MADV_DONTFORK = 10, MADV_MERGEABLE = 12, MADV_HUGEPAGE = 14, MADV_NOHUGEPAGE = 15,
            MADV_DONTDUMP = 16, MADV_WIPEONFORK = 18, MADV_DONTNEED = 4, MADV_POPULATE_WRITE = 23,
            MADV_GUARD_INSTALL = 102, MADV_GUARD_REMOVE = 103;
    private static final long PAGE = 4096;
    private static final int MLOCK_ONFAULT = 1;

    /** VmFlags → bits. "dd" is also set by the kernel itself on areas it never dumps (vDSO, vvar): kinds skip those. */
    public static int of(SmapsEntry s) {
        Set<String> f = s.vmFlags();
        int a = 0;
        a |= f.contains("hg") ? HUGEPAGE : 0;
        a |= f.contains("nh") ? NOHUGEPAGE : 0;
        a |= f.contains("dc") ? DONTFORK : 0;
        a |= f.contains("wf") ? WIPEONFORK : 0;
        a |= f.contains("dd") ? DONTDUMP : 0;
        a |= f.contains("mg") ? MERGEABLE : 0;
        a |= f.contains("lo") ? LOCKED : 0;
        a |= f.contains("lf") ? LOCKONFAULT : 0;
        a |= f.contains("sl") ? SEALED : 0;
        a |= f.contains("ac") ? ACCOUNTED : 0;
        a |= f.contains("nr") ? NORESERVE : 0;
        a |= f.contains("sr") ? SEQUENTIAL : 0;
        a |= f.contains("gu") ? MAYBE_GUARD : 0; // guard pages were installed in it (Linux 6.18+); it never merges
        a |= f.contains("rr") ? RANDOM : 0;
        a |= f.contains("mw") && s.map().shared() ? MAYWRITE : 0; // private areas all have it
        a |= !f.contains("sh") && s.map().shared() ? READ_ONLY_FILE : 0;
        return a;
    }

    /** madvise calls that must come before the pages are written (huge pages are chosen at first touch). */
    public static void adviseBeforePages(TaskContext t, VmaImage v) {
        int a = v.advice();
        long len = v.end() - v.start();
        int[][] table = {{HUGEPAGE, MADV_HUGEPAGE}, {NOHUGEPAGE, MADV_NOHUGEPAGE}, {DONTFORK, MADV_DONTFORK},
                {WIPEONFORK, MADV_WIPEONFORK}, {DONTDUMP, MADV_DONTDUMP}, {MERGEABLE, MADV_MERGEABLE},
                {SEQUENTIAL, MADV_SEQUENTIAL}, {RANDOM, MADV_RANDOM}};
        for (int[] row : table) {
            if ((a & row[0]) != 0) {
                t.later("madvise(0x" + Long.toHexString(v.start()) + ", " + names(row[0]) + ")", SyscallNr.MADVISE,
                        v.start(), len, row[1]);
            }
        }
        long[] g = v.guards();
        for (int i = 0; i < g.length; i += 2) { // guard pages hold nothing: no page of the image lands there
            t.later("madvise(0x" + Long.toHexString(g[i]) + ", " + g[i + 1] + " guard page(s))", SyscallNr.MADVISE,
                    g[i], g[i + 1] * PAGE, MADV_GUARD_INSTALL);
        }
        if ((a & MAYBE_GUARD) != 0 && g.length == 0) {
            // "gu" stays on an area that had guard pages (or was split from one): a guard put on its
            // first page and taken off again sets it, before any page of the image is written there
            t.later("madvise(0x" + Long.toHexString(v.start()) + ", guard)", SyscallNr.MADVISE, v.start(), PAGE,
                    MADV_GUARD_INSTALL);
            t.later("madvise(0x" + Long.toHexString(v.start()) + ", unguard)", SyscallNr.MADVISE, v.start(), PAGE,
                    MADV_GUARD_REMOVE);
        }
    }

    /**
     * A private anonymous area charged for writing ("ac") but no longer writable loses its charge
     * when made unwritable before it ever had a page (Linux 6.2+: mprotect drops VM_ACCOUNT while
     * no anon_vma exists), as a guard page cryo writes nothing into would. Faulting one page in and
     * dropping it again gives the area its anon_vma, so the final mprotect keeps the charge, as in
     * the dumped task. Runs right after the mmap, before any page of the image is written.
     */
    static void keepAccounted(TaskContext t, VmaImage v) {
        if ((v.advice() & ACCOUNTED) == 0 || (v.prot() & VmaImage.PROT_WRITE) != 0
                || (v.flags() & VmaImage.MAP_PRIVATE) == 0) {
            return;
        }
        t.later("madvise(0x" + Long.toHexString(v.start()) + ", populate-write)", SyscallNr.MADVISE, v.start(), PAGE,
                MADV_POPULATE_WRITE);
        t.later("madvise(0x" + Long.toHexString(v.start()) + ", dontneed)", SyscallNr.MADVISE, v.start(), PAGE,
                MADV_DONTNEED);
    }

    /** mlock and mseal, after the final protection (a sealed area can no longer change). */
    public static void lockAfterProtect(TaskContext t, VmaImage v) {
        long len = v.end() - v.start();
        // a memfd_secret area is locked by its mmap (VM_LOCKED), and mlock2 refuses it (ENOMEM)
        if ((v.advice() & LOCKED) != 0 && v.kind() != MemoryKinds.SECRET_MEM) {
            if (v.prot() == 0 && (v.advice() & LOCKONFAULT) == 0) {
                // an area locked, then made inaccessible (stress-ng's mlock stressor), or mapped PROT_NONE under
                // mlockall(MCL_FUTURE): mlock2 sets VM_LOCKED, then fails to fault in what it cannot reach (ENOMEM),
                // the same for the program's own call; the area is as it was
                try {
                    t.call("mlock2(0x" + Long.toHexString(v.start()) + ", PROT_NONE)", SyscallNr.MLOCK2, v.start(), len, 0);
                } catch (dev.cryo.kernel.SyscallException e) {
                    if (e.errno() != dev.cryo.kernel.Errno.ENOMEM) {
                        throw e;
                    }
                }
            } else {
                t.later("mlock2(0x" + Long.toHexString(v.start()) + ")", SyscallNr.MLOCK2, v.start(), len,
                        (v.advice() & LOCKONFAULT) != 0 ? MLOCK_ONFAULT : 0);
            }
        }
        if ((v.advice() & SEALED) != 0) {
            t.later("mseal(0x" + Long.toHexString(v.start()) + ")", SyscallNr.MSEAL, v.start(), len, 0);
        }
    }

    /** For show: "hugepage dontfork locked". */
    public static String names(int advice) {
        String[] n = {"hugepage", "nohugepage", "dontfork", "wipeonfork", "dontdump", "mergeable", "locked",
                "lockonfault", "sealed", "accounted", "noreserve", "sequential", "random",
                "maywrite", "maybeguard", "readonlyfile"};
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n.length; i++) {
            if ((advice & (1 << i)) != 0) {
                out.add(n[i]);
            }
        }
        return String.join(" ", out);
    }
}
