package dev.cryo.engine.memory;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.files.FileIdentity;
import dev.cryo.engine.model.FileRef;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.restore.RestoreException;
import dev.cryo.engine.restore.SharedMemoryHub;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Fcntl;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.SmapsEntry;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A private mapping of a memfd made with {@code MFD_HUGETLB} (qemu's
 * {@code memory-backend-memfd,hugetlb=on,share=off}): mapped again from that very object, which the
 * restore makes anyway for the fd or shared mapping of the same process that holds it (the memfd's
 * fd record, {@link HugetlbSharedMemory}), so the pages it has not copied on write follow the
 * object's; those it copied are carried and written into it. One kind per huge page size. The object
 * may be held by another process of the tree (a child that closed its fd after mapping it privately,
 * its parent holding the fd). One whose object no process of the tree holds any other way is refused
 * by name: its contents would need a ghost of huge pages with no hugetlbfs mount to make it on.
 */
final class HugetlbMemfdPrivate extends MemoryKind {
    private final long pageKb;

    HugetlbMemfdPrivate(int id, String name, long pageKb) {
        super(id, name);
        this.pageKb = pageKb;
    }

    @Override
    public boolean matches(MapsEntry m, SmapsEntry s) {
        return !m.shared() && m.path().startsWith("/memfd:") && s != null && HugetlbPrivateMemory.ofSize(s, pageKb);
    }

    @Override
    public void check(Pid pid, MapsEntry m, SmapsEntry s) {
        check(pid, m, s, java.util.List.of());
    }

    @Override
    public void check(Pid pid, MapsEntry m, SmapsEntry s, java.util.Collection<Integer> tree) {
        if (!heldOtherwise(pid, m.inode()) && tree.stream().noneMatch(p -> p != pid.value() && heldOtherwise(Pid.of(p), m.inode()))) {
            throw new DumpException("pid " + pid + " maps " + m.path() + " privately at 0x" + Long.toHexString(m.start())
                    + ": a memfd of huge pages (MFD_HUGETLB) that no fd or shared mapping of the process, nor of any other"
                    + " process of the tree, holds; its contents would need a ghost of huge pages with no hugetlbfs mount"
                    + " to make it on: not supported yet");
        }
    }

    /** Whether an fd or a shared mapping of {@code pid} holds object {@code ino}. */
    private static boolean heldOtherwise(Pid pid, long ino) {
        try {
            if (ProcFs.maps(pid).stream().anyMatch(o -> o.shared() && o.inode() == ino && o.path().startsWith("/memfd:"))) {
                return true;
            }
        } catch (RuntimeException e) {
            return false; // gone: nothing holds it
        }
        return heldByFd(pid, ino);
    }

    /** Whether an fd of {@code pid} is memfd object {@code ino}. */
    static boolean heldByFd(Pid pid, long ino) {
        for (var fd : ProcFs.fdTargets(pid).entrySet()) { // none for a task gone: nothing holds it
            if (fd.getValue().startsWith("/memfd:")) {
                try {
                    if (((Number) Files.getAttribute(Path.of(pid.procDir() + "/fd/" + fd.getKey()), "unix:ino")).longValue() == ino) {
                        return true;
                    }
                } catch (IOException | RuntimeException e) {
                    // closed meanwhile (the task is frozen: only by its own exit): not this one
                }
            }
        }
        return false;
    }

    @Override
    public boolean fileBacked() {
        return true;
    }

    @Override
    public FileRef file(Pid pid, MapsEntry m, dev.cryo.engine.dump.GhostFiles ghosts) {
        try {
            return FileIdentity.of(m.path(), PageScan.mapFile(pid, m));
        } catch (IOException e) {
            throw new DumpException("pid " + pid + ": cannot stat the memfd mapped at 0x" + Long.toHexString(m.start())
                    + ": " + e.getMessage(), e);
        }
    }

    @Override
    public boolean checksFile() {
        return false; // the restore makes the object again
    }

    @Override
    public void planPages(PageScan scan) {
        scan.copiedOnWritePages();
    }

    @Override
    public void validate(int pid, VmaImage v) {
        HugetlbPrivateMemory.checkPool(pid, v, pageKb);
    }

    @Override
    public void map(TaskContext t, VmaImage v, SharedMemoryHub objects) {
        if (!objects.has(v.file().ino())) {
            throw new RestoreException("the memfd " + v.file().path() + " mapped privately at 0x"
                    + Long.toHexString(v.start()) + " is not among the objects the restore made (a damaged image?)");
        }
        Mapper.mapFile(t, v, objects.path(v.file().ino()), Fcntl.O_RDONLY, Mapper.privateProt(v));
    }

    @Override
    public void show(VmaImage v, Map<String, Object> out) {
        out.put("hugePageKb", pageKb);
    }
}
