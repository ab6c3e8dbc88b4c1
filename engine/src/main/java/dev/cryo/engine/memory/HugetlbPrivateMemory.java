package dev.cryo.engine.memory;

import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.restore.SharedMemoryHub;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.SmapsEntry;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Private anonymous hugetlb memory ({@code MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB}: a JVM's code
 * cache and heap with {@code -XX:+UseLargePages}, DPDK-like allocators), shown by the kernel as
 * "/anon_hugepage (deleted)" with VmFlags "ht". One kind per huge page size, as the size is how
 * the area is mapped again. Its present pages are carried like plain memory; restore maps a new
 * hugetlb area of the same page size (with {@code MAP_NORESERVE} if it had it, else reserving its
 * huge pages as the program's own mmap did) and writes them, so each huge page the image touches
 * is taken from the host's pool. Shared hugetlb memory: {@link HugetlbSharedMemory}.
 */
final class HugetlbPrivateMemory extends MemoryKind {
    static final String PATH = "/anon_hugepage";
    private static final long MAP_HUGETLB = 0x40000;
    private static final int MAP_HUGE_SHIFT = 26;
    private final long pageKb;

    HugetlbPrivateMemory(int id, String name, long pageKb) {
        super(id, name);
        this.pageKb = pageKb;
    }

    @Override
    public boolean matches(MapsEntry m, SmapsEntry s) {
        return !m.shared() && PATH.equals(m.path()) && ofSize(s, pageKb);
    }

    /** Whether an "/anon_hugepage" area is hugetlb memory in pages of {@code pageKb}. */
    static boolean ofSize(SmapsEntry s, long pageKb) {
        if (s == null) { // a quick look by maps alone: any size is memory pre-copy skips
            return pageKb == 2048;
        }
        Long size = s.kb().get("KernelPageSize");
        return s.hasFlag("ht") && size != null && size == pageKb;
    }

    @Override
    public void planPages(PageScan scan) {
        scan.presentPages();
    }

    @Override
    public void validate(int pid, VmaImage v) {
        checkPool(pid, v, pageKb);
    }

    /** Before any process is created: this host has huge pages of that size. */
    static void checkPool(int pid, VmaImage v, long pageKb) {
        Path pool = Path.of("/sys/kernel/mm/hugepages/hugepages-" + pageKb + "kB");
        if (!Files.isDirectory(pool)) {
            throw new RestoreException("pid " + pid + " maps hugetlb memory at 0x" + Long.toHexString(v.start())
                    + " in pages of " + pageKb + " kB, a size this host does not have (" + pool + ")");
        }
    }

    @Override
    public void map(TaskContext t, VmaImage v, SharedMemoryHub shared) {
        long flags = Mapper.flags(v) | Mapper.MAP_ANONYMOUS | MAP_HUGETLB
                | ((long) Long.numberOfTrailingZeros(pageKb * 1024) << MAP_HUGE_SHIFT);
        // always writable for the pages (hugetlb areas are never charged to overcommit); protect takes it back
        t.later("mmap(hugetlb 0x" + Long.toHexString(v.start()) + ", " + (v.end() - v.start()) / (pageKb * 1024)
                        + " huge pages of " + pageKb + " kB: the host's pool must hold them,"
                        + " /proc/sys/vm/nr_hugepages)", SyscallNr.MMAP, v.start(), v.end() - v.start(),
                Mapper.writable(v), flags, -1, 0);
    }

    @Override
    public void show(VmaImage v, Map<String, Object> out) {
        out.put("hugePageKb", pageKb);
    }
}
