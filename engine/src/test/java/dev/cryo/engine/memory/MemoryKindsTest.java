package dev.cryo.engine.memory;

import dev.cryo.engine.DumpException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.SmapsEntry;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

class MemoryKindsTest {
    private static MemoryKind kindOf(String mapsLine, String vmFlags) {
        SmapsEntry s = SmapsEntry.parse(mapsLine + "\nSize:                  8 kB\nRss:                   8 kB\nVmFlags: " + vmFlags + "\n").get(0);
        return MemoryKinds.of(Pid.of(4242), s);
    }

    @Test
    void everyMappingFindsItsKind() {
        assertSame(MemoryKinds.HEAP, kindOf("55c550bd9000-55c550bfa000 rw-p 00000000 00:00 0   [heap]", "rd wr mr mw me ac"));
        assertSame(MemoryKinds.STACK, kindOf("7ffd85eb7000-7ffd85ed8000 rw-p 00000000 00:00 0   [stack]", "rd wr mr mw me gd ac"));
        assertSame(MemoryKinds.ANON, kindOf("7f5f1eb3f000-7f5f1eb42000 rw-p 00000000 00:00 0 ", "rd wr mr mw me ac"));
        assertSame(MemoryKinds.FILE_PRIVATE, kindOf("55c53c229000-55c53c22a000 r-xp 00001000 fe:00 2146677   /tmp/x", "rd ex mr mw me"));
        assertSame(MemoryKinds.FILE_SHARED, kindOf("7f7fa5eb8000-7f7fa5eba000 rw-s 00000000 fe:00 2146525   /tmp/f", "rd wr sh mr mw me ms"));
        assertSame(MemoryKinds.SHARED_ANON, kindOf("7f5f1ed24000-7f5f1ed27000 rw-s 00000000 00:01 47   /dev/zero (deleted)", "rd wr sh mr mw me ms"));
        assertSame(MemoryKinds.SHARED_ANON, kindOf("7f5f1ed24000-7f5f1ed27000 rw-s 00000000 00:01 48   /memfd:shapes (deleted)", "rd wr sh mr mw me ms"));
        assertSame(MemoryKinds.VDSO, kindOf("7f5f1ed35000-7f5f1ed37000 r-xp 00000000 00:00 0   [vdso]", "rd ex mr mw me de"));
        assertSame(MemoryKinds.VVAR_VCLOCK, kindOf("7f5f1ed33000-7f5f1ed35000 r--p 00000000 00:00 0   [vvar_vclock]", "rd mr pf io de dd"));
        assertSame(MemoryKinds.VSYSCALL, kindOf("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0   [vsyscall]", "ex"));
    }

    @Test
    void privateHugetlbMemoryIsCarriedByItsPageSize() {
        String two = "7f2b7cc00000-7f2b7d000000 rw-p 00000000 00:11 96539   /anon_hugepage (deleted)\nSize: 4096 kB\nRss: 2048 kB\n"
                + "KernelPageSize: 2048 kB\nVmFlags: rd wr mr mw me de ht\n";
        assertSame(MemoryKinds.HUGETLB_PRIVATE_2M, MemoryKinds.of(Pid.of(4242), SmapsEntry.parse(two).get(0)));
        String gig = two.replace("2048 kB", "1048576 kB");
        assertSame(MemoryKinds.HUGETLB_PRIVATE_1G, MemoryKinds.of(Pid.of(4242), SmapsEntry.parse(gig).get(0)));
    }

    @Test
    void aKindCryoDoesNotCarryIsRefusedNamingPidMappingAndReason() {
        DumpException e = assertThrows(DumpException.class,
                () -> kindOf("7f5f1ed24000-7f5f1ed27000 rw-s 00000000 00:10 5   /anon_hugepage (deleted)",
                        "rd wr sh mr mw me ms ht"));
        assertTrue(e.getMessage().contains("pid 4242") && e.getMessage().contains("hugetlb")
                && e.getMessage().contains("0x7f5f1ed24000") && e.getMessage().contains("not supported"), e.getMessage());
    }

    /**
     * A deleted hugetlbfs file (qemu's -mem-path) is a ghost like any deleted file; a private mapping of a memfd of
     * huge pages maps the memfd the process holds, and is refused where it holds it no other way.
     */
    @Test
    void aDeletedHugetlbfsFileIsAGhostAndAPrivateHugetlbMemfdIsRefused() {
        String file = "7f5f1ec00000-7f5f1f000000 rw-s 00000000 00:2c 77   /dev/hugepages/qemu_back_mem.pc.ram.Xy12 (deleted)";
        assertSame(MemoryKinds.GHOST_SHARED, kindOf(file, "rd wr sh mr mw me ms de ht"));
        assertSame(MemoryKinds.GHOST_PRIVATE, kindOf(file.replace("rw-s", "rw-p"), "rd wr mr mw me de ht"));
        SmapsEntry memfd = SmapsEntry.parse("7f5f1ec00000-7f5f1f000000 rw-p 00000000 00:01 78   /memfd:cryo-huge (deleted)\n"
                + "Size: 4096 kB\nRss: 2048 kB\nKernelPageSize: 2048 kB\nVmFlags: rd wr mr mw me de ht\n").get(0);
        assertTrue(MemoryKinds.HUGETLB_MEMFD_PRIVATE_2M.matches(memfd.map(), memfd));
        // pid 4242's fds and shared mappings cannot hold it: refused, naming it
        DumpException e = assertThrows(DumpException.class, () -> MemoryKinds.of(Pid.of(4242), memfd));
        assertTrue(e.getMessage().contains("no fd or shared mapping of the process, nor of any other process of the tree, holds"),
                e.getMessage());
    }

    @Test
    void idsAreUniqueAndRoundTrip() {
        Set<Integer> ids = new HashSet<>();
        for (MemoryKind k : MemoryKinds.all()) {
            if (k.id() >= 0) {
                assertTrue(ids.add(k.id()), "id " + k.id() + " twice");
                assertSame(k, MemoryKinds.ofId(k.id()));
            }
        }
        assertThrows(IllegalArgumentException.class, () -> MemoryKinds.ofId(9999));
    }
}
