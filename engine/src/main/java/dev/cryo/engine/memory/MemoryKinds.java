package dev.cryo.engine.memory;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.SmapsEntry;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Every kind of memory mapping, in the order a mapping is matched (the first kind that says yes
 * is its kind). Ids are persisted in every image: never change or reuse one; the memory helper's
 * new kinds take the next free number.
 */
public final class MemoryKinds {
    private MemoryKinds() {}

    public static final MemoryKind ANON = new AnonymousMemory(0, "ANON", m -> true);
    public static final MemoryKind FILE_PRIVATE = new PrivateFileMapping(1);
    public static final MemoryKind FILE_SHARED = new SharedFileMapping(2);
    public static final MemoryKind STACK = new AnonymousMemory(3, "STACK", MapsEntry::isStack);
    public static final MemoryKind HEAP = new AnonymousMemory(4, "HEAP", MapsEntry::isHeap);
    public static final VdsoArea VDSO = new VdsoArea(5, "VDSO", "[vdso]");
    public static final VdsoArea VVAR = new VdsoArea(6, "VVAR", "[vvar]");
    public static final VdsoArea VVAR_VCLOCK = new VdsoArea(7, "VVAR_VCLOCK", "[vvar_vclock]");
    public static final MemoryKind VSYSCALL = new Vsyscall(8);
    public static final MemoryKind SHARED_ANON = new SharedMemory(9);
    public static final MemoryKind GHOST_PRIVATE = new DeletedFileMapping(10, "GHOST_PRIVATE", false);
    public static final MemoryKind GHOST_SHARED = new DeletedFileMapping(11, "GHOST_SHARED", true);
    public static final MemoryKind SYSV_SHM = new SysvSharedMemory(12);
    public static final MemoryKind AIO_RING = new AioRing(13);
    public static final MemoryKind JVM_PERF_DATA = new JvmPerfData(14);
    public static final MemoryKind PACKET_RING = new PacketRingMapping(80); // sock10's range: 80-84
    /** uring10's range: 85-89. */
    public static final MemoryKind IO_URING = new IoUringArea(85);
    /** real19's range: 305-309. */
    public static final MemoryKind HUGETLB_PRIVATE_2M = new HugetlbPrivateMemory(305, "HUGETLB_PRIVATE_2M", 2048);
    public static final MemoryKind HUGETLB_PRIVATE_1G = new HugetlbPrivateMemory(306, "HUGETLB_PRIVATE_1G", 1024 * 1024);
    /** refused20's range: 315-319. */
    public static final HugetlbSharedMemory HUGETLB_SHARED_2M = new HugetlbSharedMemory(315, "HUGETLB_SHARED_2M", 2048);
    public static final HugetlbSharedMemory HUGETLB_SHARED_1G = new HugetlbSharedMemory(316, "HUGETLB_SHARED_1G",
            1024 * 1024);
    /** refused24's range: 405-409. */
    public static final MemoryKind HUGETLB_MEMFD_PRIVATE_2M = new HugetlbMemfdPrivate(405, "HUGETLB_MEMFD_PRIVATE_2M", 2048);
    public static final MemoryKind HUGETLB_MEMFD_PRIVATE_1G = new HugetlbMemfdPrivate(406, "HUGETLB_MEMFD_PRIVATE_1G",
            1024 * 1024);
    /** zfix48's range: 807-816. */
    public static final MemoryKind SECRET_MEM = new SecretMemoryArea(807);
    // next free id below 80: 15 (and 81 in sock10's range, 86 in uring10's, 307 in real19's, 317 in refused20's, 407 in refused24's, 808 in zfix48's)

    /** Match order: special areas and refusals first, then shared memory, plain memory, deleted files, files. */
    private static final List<MemoryKind> TABLE = List.of(
            VSYSCALL, VVAR, VVAR_VCLOCK, VDSO,
            // pagemap shows the pages a uffd still owes as never touched: a dump would drop them, silently
            new Unsupported("UFFD_MISSING", (m, s) -> s != null && s.hasFlag("um"),
                    "memory registered for missing pages on a userfaultfd (VmFlags um)", "the pages not in yet show as"
                    + " never touched and would be lost: a lazy restore (cryo restore --lazy-pages) is still bringing"
                    + " them in, or a program outside the tree serves them; dump once the lazy restore has ended"),
            SYSV_SHM,
            HUGETLB_PRIVATE_2M, HUGETLB_PRIVATE_1G, HUGETLB_SHARED_2M, HUGETLB_SHARED_1G,
            HUGETLB_MEMFD_PRIVATE_2M, HUGETLB_MEMFD_PRIVATE_1G,
            // a mapping of a hugetlbfs file (DPDK's hugepage files) is a file mapping, shared or private (its
            // copied-on-write pages carried); a shared one of an MFD_HUGETLB memfd is HUGETLB_SHARED, a private one
            // HUGETLB_MEMFD_PRIVATE; a deleted hugetlbfs file (qemu's -mem-path, DPDK's --huge-unlink) is a ghost,
            // made again on its mount
            new Unsupported("HUGETLB", (m, s) -> s != null && s.hasFlag("ht") && m.deleted()
                    && (m.path().startsWith("/memfd:") || m.path().equals(HugetlbPrivateMemory.PATH)),
                    "hugetlb memory", "hugetlb memory in pages of a size other than 2 MiB and 1 GiB is not supported yet"),
            AIO_RING,
            PACKET_RING,
            IO_URING,
            SECRET_MEM, // before SHARED_ANON: memfd_secret(2) memory, whose pages only the task itself may touch
            // qemu's KVM vCPUs (anon_inode:kvm-vcpu:N), perf_event rings: pages of a kernel object, not a file
            new Unsupported("ANON_INODE", (m, s) -> m.path().startsWith("anon_inode:"), "the memory of",
                    "a mapping of a kernel object other than an io_uring (a KVM virtual CPU's, a perf_event ring)"
                            + " is not supported"),
            SHARED_ANON,
            HEAP, STACK, ANON,
            GHOST_SHARED, GHOST_PRIVATE,
            JVM_PERF_DATA,
            FILE_SHARED, FILE_PRIVATE);

    private static final Map<Integer, MemoryKind> BY_ID = new HashMap<>();

    static {
        for (MemoryKind k : TABLE) {
            if (k.id() >= 0 && BY_ID.put(k.id(), k) != null) {
                throw new IllegalStateException("memory kind id " + k.id() + " is used twice");
            }
        }
    }

    /** The kind of a mapping, checked: a mapping cryo cannot carry fails the dump here. */
    public static MemoryKind of(Pid pid, SmapsEntry s) {
        return of(pid, s, java.util.List.of());
    }

    /** As above, for a task of the dumped tree {@code tree} (its pids). */
    public static MemoryKind of(Pid pid, SmapsEntry s, java.util.Collection<Integer> tree) {
        for (MemoryKind k : TABLE) {
            if (k.matches(s.map(), s)) {
                k.check(pid, s.map(), s, tree);
                return k;
            }
        }
        throw new DumpException("pid " + pid + " maps " + s.map() + ": a kind of mapping cryo does not know");
    }

    /** The kind smaps gives a mapping, without its checks (for one already checked). */
    public static MemoryKind kindOf(SmapsEntry s) {
        for (MemoryKind k : TABLE) {
            if (k.matches(s.map(), s)) {
                return k;
            }
        }
        return null;
    }

    /**
     * The kind of a mapping by maps alone (no smaps flags, no checks): for a quick look at a
     * running task, as pre-copy rounds take; the dump itself uses {@link #of(Pid, SmapsEntry)}.
     */
    public static MemoryKind kindOf(MapsEntry m) {
        for (MemoryKind k : TABLE) {
            if (k.matches(m, null)) {
                return k;
            }
        }
        return ANON;
    }

    /** The kind stored under {@code id} in an image. */
    public static MemoryKind ofId(int id) {
        MemoryKind k = BY_ID.get(id);
        if (k == null) {
            throw new IllegalArgumentException("unknown memory kind id " + id);
        }
        return k;
    }

    public static List<MemoryKind> all() {
        return TABLE;
    }
}
