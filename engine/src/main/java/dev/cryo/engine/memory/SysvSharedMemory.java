package dev.cryo.engine.memory;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.model.FileRef;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.restore.SharedMemoryHub;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.SmapsEntry;

import java.util.Map;

/**
 * An attached SysV shared memory segment (shmat: maps shows {@code /SYSV<key> (deleted)}, the
 * inode is the shmid). In an ipc namespace the tree made, the segment is in the image with the
 * namespace ({@code IpcImage}), made again before the task attaches it; its FileRef's {@code dev}
 * is that namespace's inode. Otherwise it belongs to the host's IPC namespace and outlives the tree (a
 * dump ends the tree, not the segment), so, as CRIU does outside an IPC namespace, its contents
 * stay in the kernel: restore attaches the same shmid again at the same address, after checking
 * that it is still the same segment (key and size). A segment marked for removal (IPC_RMID) while
 * attached (fio's, X's MIT-SHM idiom) vanishes with the tree: its pages go into the image, carried
 * once per segment like shared anonymous memory, and restore makes a new private segment, attaches
 * it at the same addresses and marks it for removal again once every task holds it (the shmid is
 * the kernel's new one; in an ipc namespace the tree made, the namespace's image carries it and it is
 * made again with its shmid, then marked for removal once every task holds it). A
 * segment mapped in part cannot be attached back as it was: refused at dump time. A hugetlb
 * segment (SHM_HUGETLB: a JVM's heap with {@code -XX:+UseLargePages -XX:+UseSHM}, marked for
 * removal once attached) is carried the same way in 2 MiB pages, a removed one made again hugetlb; in the
 * tree's ipc namespace, too (a JVM's in a container). An attachment split by mprotect into areas of different protections is
 * attached whole at its first area, each area then protected as it was.
 */
public final class SysvSharedMemory extends MemoryKind {
    private static final int SHM_DEST = 01000, SHM_RDONLY = 010000, SHM_EXEC = 0100000;
    /** The huge page size of the hugetlb segments (SHM_HUGETLB) carried: the kernel's default one here. */
    private static final long HUGE_PAGE_KB = 2048;

    SysvSharedMemory(int id) {
        super(id, "SYSV_SHM");
    }

    /** One line of /proc/sysvipc/shm. */
    record Segment(long key, long shmid, int perms, long size) {}

    static Segment segment(long shmid) {
        for (String line : ProcFs.text("/proc/sysvipc/shm").split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length > 3 && f[1].equals(Long.toString(shmid))) {
                return new Segment(Long.parseLong(f[0]), shmid, Integer.parseInt(f[2], 8), Long.parseLong(f[3]));
            }
        }
        return null;
    }

    /** The segment as the task's own ipc namespace lists it. */
    static Segment segment(Pid pid, long shmid) {
        long ns = privateNamespace(pid);
        return ns == 0 ? segment(shmid) : dev.cryo.kernel.Namespaces.inside(pid, "ipc", () -> segment(shmid));
    }

    /** The inode of the task's ipc namespace when it is not cryo's (the tree's own), else 0. */
    private static long privateNamespace(Pid pid) {
        String ns = dev.cryo.kernel.Namespaces.link(pid.toString(), "ipc");
        if (ns == null || ns.equals(dev.cryo.kernel.Namespaces.link("self", "ipc"))) {
            return 0;
        }
        return Long.parseLong(ns.substring(ns.indexOf('[') + 1, ns.indexOf(']')));
    }

    @Override
    public boolean matches(MapsEntry m, SmapsEntry s) {
        return m.path().startsWith("/SYSV");
    }

    @Override
    public void check(Pid pid, MapsEntry m, SmapsEntry s) {
        String what = "pid " + pid + " maps the SysV shared memory segment " + m.path() + " (shmid " + m.inode()
                + ") at 0x" + Long.toHexString(m.start()) + "-0x" + Long.toHexString(m.end());
        if (s != null && s.hasFlag("ht")) {
            Long kb = s.kb().get("KernelPageSize");
            if (kb == null || kb != HUGE_PAGE_KB) {
                throw new DumpException(what + ": hugetlb memory (SHM_HUGETLB) in pages of " + kb + " kB is not"
                        + " supported yet (pages of " + HUGE_PAGE_KB + " kB are)");
            }
        }
        Segment seg = segment(pid, m.inode());
        if (seg == null) {
            throw new DumpException(what + ": the segment is not in its IPC namespace's /proc/sysvipc/shm");
        }
        long whole = (seg.size() + MapsEntry.PAGE_SIZE - 1) / MapsEntry.PAGE_SIZE * MapsEntry.PAGE_SIZE;
        if (!attachedWhole(pid, m, whole)) {
            throw new DumpException(what + ": only part of the segment is mapped (offset 0x" + Long.toHexString(m.offset())
                    + ", " + m.size() + " of " + whole + " bytes); a segment is attached back whole");
        }
    }

    /**
     * Whether the attachment {@code m} is part of covers the whole segment: one area, or areas split
     * by mprotect (zdtm's shm-mp), each at its own offset from the same base.
     */
    private static boolean attachedWhole(Pid pid, MapsEntry m, long whole) {
        if (m.offset() == 0 && m.size() == whole) {
            return true;
        }
        long base = m.start() - m.offset();
        long covered = 0;
        for (MapsEntry o : dev.cryo.kernel.proc.ProcFs.maps(pid)) {
            if (o.inode() == m.inode() && o.path().equals(m.path()) && o.start() - o.offset() == base) {
                covered += o.size();
            }
        }
        return covered == whole;
    }

    @Override
    public FileRef file(Pid pid, MapsEntry m, dev.cryo.engine.dump.GhostFiles ghosts) {
        Segment seg = segment(pid, m.inode());
        // path "/SYSV<key>", dev the tree's own ipc namespace or 0, ino the shmid, size the segment's, mode its permissions
        // a hugetlb segment's mode carries SHM_HUGETLB (never a mode bit of a segment) to be made so again
        boolean huge = dev.cryo.kernel.Sys.fsMagic(PageScan.mapFile(pid, m).toString()) == dev.cryo.kernel.Sys.HUGETLBFS_MAGIC;
        return new FileRef(m.path(), privateNamespace(pid), m.inode(), seg == null ? m.size() : seg.size(), 0,
                (seg == null ? 0 : seg.perms()) | (huge ? dev.cryo.kernel.SysvIpc.SHM_HUGETLB : 0));
    }

    /** Marked for removal at dump (host namespace): its pages are in the image, a new segment is made. */
    static boolean removed(FileRef f) {
        return f != null && f.dev() == 0 && (f.mode() & SHM_DEST) != 0;
    }

    /**
     * The claims key of the pages of the segment {@code m} attaches when they go into the image (marked
     * for removal, in the host's ipc namespace), else 0: for a pre-copy, which carries such pages alone.
     */
    public static long imageKey(Pid pid, MapsEntry m) {
        if (privateNamespace(pid) != 0) {
            return 0;
        }
        Segment seg = segment(m.inode());
        return seg != null && (seg.perms() & SHM_DEST) != 0 ? claimKey(m.inode()) : 0;
    }

    /** Claims key of a removed segment's pages: apart from shmem inode numbers, which shmids may equal. */
    private static long claimKey(long shmid) {
        return -1 - shmid;
    }

    @Override
    public void planPages(PageScan scan) {
        if (removed(scan.file())) {
            scan.sharedObjectPages(claimKey(scan.file().ino()));
        }
    }

    /** Before any process is created: the shmid must still be the same segment (the host's). */
    @Override
    public void validate(int pid, VmaImage v) {
        FileRef f = v.file();
        if (f.dev() != 0 || removed(f)) {
            return; // in the tree's own ipc namespace: made again from the image
        }
        Segment seg = segment(f.ino());
        long key = Long.parseUnsignedLong(f.path().substring(5).replace(" (deleted)", ""), 16);
        String what = "pid " + pid + " SysV shared memory segment shmid " + f.ino() + " (key 0x"
                + Long.toHexString(key) + ", " + f.size() + " bytes)";
        if (seg == null) {
            throw new RestoreException(what + " no longer exists on this host: its contents live in the host's IPC "
                    + "namespace, not in the image");
        }
        if ((int) seg.key() != (int) key || seg.size() != f.size()) {
            throw new RestoreException(what + " was replaced: that shmid is now key 0x" + Long.toHexString(seg.key())
                    + ", " + seg.size() + " bytes");
        }
    }

    @Override
    public boolean checksFile() {
        return false;
    }

    @Override
    public void map(TaskContext t, VmaImage v, SharedMemoryHub shared) {
        if (v.offset() != 0) {
            return; // a later part of an attachment split by mprotect: attached with its first part
        }
        int flags = (mayWrite(v) ? 0 : SHM_RDONLY) | ((v.prot() & VmaImage.PROT_EXEC) != 0 ? SHM_EXEC : 0);
        long shmid = removed(v.file())
                ? shared.removedSysvSegment(v.file().ino(), v.file().size(), v.file().mode())
                : v.file().ino();
        if (v.file().dev() != 0 && (v.file().mode() & SHM_DEST) != 0) { // the tree's namespace made it again
            shared.removeOnceHeld(v.file().dev(), shmid, t.pid());
        }
        long at = t.call("shmat(" + shmid + ")", SyscallNr.SHMAT, shmid, v.start(), flags);
        if (at != v.start()) {
            throw new RestoreException("pid " + t.pid() + ": shmat(" + shmid + ") landed at 0x"
                    + Long.toHexString(at) + ", not 0x" + Long.toHexString(v.start()));
        }
    }

    @Override
    public void protect(TaskContext t, VmaImage v) {
        int attached = VmaImage.PROT_READ | (mayWrite(v) ? VmaImage.PROT_WRITE : 0) | (v.prot() & VmaImage.PROT_EXEC);
        if (v.prot() != attached || v.offset() != 0) { // mprotect'ed after shmat (e.g. to PROT_NONE), or split
            t.call("mprotect", SyscallNr.MPROTECT, v.start(), v.end() - v.start(), v.prot());
        }
    }

    /** Attached for writing: writable now, or may be made so (VM_MAYWRITE: shmat without SHM_RDONLY). */
    private static boolean mayWrite(VmaImage v) {
        return (v.prot() & VmaImage.PROT_WRITE) != 0 || (v.advice() & VmAdvice.MAYWRITE) != 0;
    }

    @Override
    public void show(VmaImage v, Map<String, Object> out) {
        out.put("shmid", v.file().ino());
    }
}
