package dev.cryo.engine.dump;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.files.FileIdentity;
import dev.cryo.engine.model.FileRef;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.model.VmaKind;
import dev.cryo.kernel.Fd;
import dev.cryo.kernel.FileExtents;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.Sys;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.Pagemap;
import dev.cryo.kernel.proc.PagemapReader;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.SmapsEntry;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Which pages of a frozen task go into the image (policy from kernel.md): anonymous private
 * memory — present or swapped pages; private file mappings — only the copied-on-write pages
 * (present, "file page" bit clear); shared file mappings — nothing (the file holds them); the
 * vDSO block and vsyscall — nothing (the kernel provides them).
 */
public record MemoryPlan(List<MapsEntry> maps, List<VmaImage> vmas, List<PageRun> runs, long scannedPages) {
    private static final int PAGEMAP_BATCH = 1 << 16;

    public long pages() {
        return runs.stream().mapToLong(PageRun::pages).sum();
    }

    public static MemoryPlan of(Pid pid) {
        return of(pid, new SharedMemoryClaims());
    }

    /**
     * {@code sharedMemory}: the pages of shared memory objects that tasks of this dump already
     * carry; this task carries the pages of its windows that nobody claimed before.
     */
    public static MemoryPlan of(Pid pid, SharedMemoryClaims sharedMemory) {
        List<SmapsEntry> smaps = ProcFs.smaps(pid);
        List<VmaImage> vmas = new ArrayList<>();
        List<PageRun> runs = new ArrayList<>();
        long scanned = 0;
        try (PagemapReader pagemap = ProcFs.openPagemap(pid)) {
            for (SmapsEntry s : smaps) {
                MapsEntry m = s.map();
                if (m.path().startsWith("/SYSV")) {
                    // it would come back as plain shared memory, no longer attached to its IPC id
                    throw new DumpException("pid " + pid + " maps the SysV shared memory segment " + m.path()
                            + " at 0x" + Long.toHexString(m.start()) + ": SysV IPC is not supported yet");
                }
                VmaKind kind = kindOf(m);
                int index = vmas.size();
                FileRef file = fileOf(pid, m, kind);
                vmas.add(new VmaImage(m.start(), m.end(), prot(m), flags(m, s, kind), m.offset(), kind, file, 0, 0));
                if (kind == VmaKind.SHARED_ANON) {
                    scanned += m.pages();
                    collectSharedRuns(pid, index, m, file.ino(), sharedMemory, runs);
                } else if (dumpsPages(kind)) {
                    scanned += m.pages();
                    collectRuns(pagemap, index, m, kind, runs);
                }
            }
        }
        return new MemoryPlan(smaps.stream().map(SmapsEntry::map).toList(), vmas, runs, scanned);
    }

    static VmaKind kindOf(MapsEntry m) {
        if (m.isVsyscall()) {
            return VmaKind.VSYSCALL;
        }
        if (m.isVdso()) {
            return VmaKind.VDSO;
        }
        if (m.path().equals("[vvar]")) {
            return VmaKind.VVAR;
        }
        if (m.path().equals("[vvar_vclock]")) {
            return VmaKind.VVAR_VCLOCK;
        }
        if (m.shared() && (m.isAnonymous() || m.path().startsWith("/dev/zero") || m.path().startsWith("/memfd:"))) {
            return VmaKind.SHARED_ANON;
        }
        if (m.isHeap()) {
            return VmaKind.HEAP;
        }
        if (m.isStack()) {
            return VmaKind.STACK;
        }
        if (m.isAnonymous()) {
            return VmaKind.ANON;
        }
        return m.shared() ? VmaKind.FILE_SHARED : VmaKind.FILE_PRIVATE;
    }

    private static boolean dumpsPages(VmaKind kind) {
        return switch (kind) {
            case ANON, HEAP, STACK, FILE_PRIVATE, SHARED_ANON -> true;
            case FILE_SHARED, VDSO, VVAR, VVAR_VCLOCK, VSYSCALL -> false;
        };
    }

    private static int prot(MapsEntry m) {
        return (m.read() ? VmaImage.PROT_READ : 0) | (m.write() ? VmaImage.PROT_WRITE : 0)
                | (m.exec() ? VmaImage.PROT_EXEC : 0);
    }

    private static int flags(MapsEntry m, SmapsEntry s, VmaKind kind) {
        int f = m.shared() ? VmaImage.MAP_SHARED : VmaImage.MAP_PRIVATE;
        if (kind != VmaKind.FILE_PRIVATE && kind != VmaKind.FILE_SHARED) {
            f |= VmaImage.MAP_ANONYMOUS;
        }
        if (s.isGrowsDown()) {
            f |= VmaImage.MAP_GROWSDOWN;
        }
        return f;
    }

    /**
     * The mapped file's identity. Shared anonymous memory is a file too (on the kernel's shm
     * mount): its inode tells which mappings of which tasks are the same memory.
     */
    private static FileRef fileOf(Pid pid, MapsEntry m, VmaKind kind) {
        if (kind != VmaKind.FILE_PRIVATE && kind != VmaKind.FILE_SHARED && kind != VmaKind.SHARED_ANON) {
            return null;
        }
        if (m.deleted() && kind != VmaKind.SHARED_ANON) {
            throw new DumpException("pid " + pid + " maps " + m.path() + " at 0x" + Long.toHexString(m.start())
                    + ", a deleted file: not supported yet");
        }
        // map_files/ resolves to the very file mapped, even if the path was replaced since
        Path link = mapFile(pid, m);
        try {
            return FileIdentity.of(m.path(), link);
        } catch (IOException e) {
            throw new DumpException("pid " + pid + ": cannot stat mapped file " + m.path() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Pages of a shared memory object are found in the object itself (SEEK_DATA on the mapped
     * file), not in this task's page table: a task that never touched a page since fork has no
     * PTE for it, yet the page is there for every task that maps it.
     */
    private static void collectSharedRuns(Pid pid, int index, MapsEntry m, long ino, SharedMemoryClaims claims,
                                          List<PageRun> out) {
        long page = RemoteTask.PAGE;
        long firstPage = m.offset() / page;
        List<long[]> mine = claims.claim(ino, firstPage, firstPage + m.pages());
        if (mine.isEmpty()) {
            return;
        }
        boolean viaProcMem = !m.read();
        try (Fd fd = Sys.open(mapFile(pid, m).toString(), Sys.O_RDONLY)) {
            for (long[] r : mine) {
                for (long[] d : FileExtents.data(fd, r[0] * page, r[1] * page)) {
                    long from = d[0] / page * page;
                    long to = (d[1] + page - 1) / page * page;
                    long addr = m.start() + (from - m.offset());
                    out.add(new PageRun(index, addr, (int) ((to - from) / page), viaProcMem, true));
                }
            }
        }
    }

    private static Path mapFile(Pid pid, MapsEntry m) {
        return Path.of("/proc/" + pid + "/map_files/" + Long.toHexString(m.start()) + "-" + Long.toHexString(m.end()));
    }

    private static void collectRuns(PagemapReader pagemap, int index, MapsEntry m, VmaKind kind, List<PageRun> out) {
        boolean viaProcMem = !m.read();
        boolean zeroImplicit = kind != VmaKind.FILE_PRIVATE;
        long addr = m.start();
        long runStart = -1;
        while (addr < m.end()) {
            int n = (int) Math.min(PAGEMAP_BATCH, (m.end() - addr) / RemoteTask.PAGE);
            long[] entries = pagemap.read(addr, n);
            for (int i = 0; i < n; i++) {
                long page = addr + i * RemoteTask.PAGE;
                if (wanted(entries[i], kind)) {
                    if (runStart < 0) {
                        runStart = page;
                    }
                } else if (runStart >= 0) {
                    out.add(new PageRun(index, runStart, (int) ((page - runStart) / RemoteTask.PAGE), viaProcMem,
                            zeroImplicit));
                    runStart = -1;
                }
            }
            addr += n * RemoteTask.PAGE;
        }
        if (runStart >= 0) {
            out.add(new PageRun(index, runStart, (int) ((m.end() - runStart) / RemoteTask.PAGE), viaProcMem,
                    zeroImplicit));
        }
    }

    private static boolean wanted(long entry, VmaKind kind) {
        return switch (kind) {
            case FILE_PRIVATE -> (Pagemap.present(entry) && !Pagemap.fileOrSharedAnon(entry)) || Pagemap.swapped(entry);
            case SHARED_ANON -> Pagemap.present(entry) || Pagemap.swapped(entry);
            default -> Pagemap.present(entry) || Pagemap.swapped(entry);
        };
    }
}
