package dev.cryo.engine.memory;

import dev.cryo.engine.model.VmaImage;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.SmapsEntry;

import java.util.Map;

/**
 * Shared anonymous hugetlb memory ({@code MAP_SHARED|MAP_ANONYMOUS|MAP_HUGETLB}: PostgreSQL's
 * shared buffers with {@code huge_pages=on}), "/anon_hugepage (deleted)" with VmFlags "ht" in a
 * shared mapping, and shared mappings of a memfd made with {@code MFD_HUGETLB} (qemu's
 * {@code memory-backend-memfd,hugetlb=on}, DPDK's {@code --in-memory}). One kind per huge page size, as the size is how the object is made again. Its
 * pages are carried as shared memory's are, once, by offset, whichever task's window shows them
 * (found by reading the object, {@link PageScan#sharedObjectPages}); restore
 * makes one hugetlb object of the same page size (reserving its pages unless every mapping had
 * {@code MAP_NORESERVE}) that every task maps again, so each huge page the image holds is taken
 * from the host's pool.
 */
public final class HugetlbSharedMemory extends SharedMemory {
    private final long pageKb;

    HugetlbSharedMemory(int id, String name, long pageKb) {
        super(id, name);
        this.pageKb = pageKb;
    }

    /** The huge page size the object is made of again. */
    public long pageKb() {
        return pageKb;
    }

    @Override
    public boolean matches(MapsEntry m, SmapsEntry s) {
        return m.shared() && (HugetlbPrivateMemory.PATH.equals(m.path()) || m.path().startsWith("/memfd:"))
                && HugetlbPrivateMemory.ofSize(s, pageKb);
    }

    @Override
    public void validate(int pid, VmaImage v) {
        HugetlbPrivateMemory.checkPool(pid, v, pageKb);
    }

    @Override
    public void show(VmaImage v, Map<String, Object> out) {
        out.put("hugePageKb", pageKb);
    }
}
