package dev.cryo.engine.memory;

import dev.cryo.engine.model.FileRef;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.restore.SharedMemoryHub;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.SyscallNr;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.SmapsEntry;

import java.util.Map;

/**
 * One kind of memory mapping: what it is in /proc/PID/maps, which of its pages go into the image,
 * how restore maps it again, and what {@code cryo show} says of it. {@link MemoryKinds} lists
 * them all in one table; adding a kind is one class and one line there. The id is persisted in
 * every image: never change or reuse one.
 */
public abstract class MemoryKind {
    private final int id;
    private final String name;

    protected MemoryKind(int id, String name) {
        this.id = id;
        this.name = name;
    }

    public final int id() {
        return id;
    }

    /** Shown by {@code cryo show} and in messages ("ANON", "SHARED_ANON"). */
    public final String name() {
        return name;
    }

    // ---- dump ----------------------------------------------------------------------------------

    /** Whether a mapping is of this kind; the table asks the kinds in order and the first yes wins. */
    public abstract boolean matches(MapsEntry m, SmapsEntry s);

    /** Throws a DumpException naming pid, mapping and reason when this mapping cannot be carried. */
    public void check(Pid pid, MapsEntry m, SmapsEntry s) {}

    /** As above, for a task of the dumped tree {@code tree} (its pids): for a kind another task's state may make carriable. */
    public void check(Pid pid, MapsEntry m, SmapsEntry s, java.util.Collection<Integer> tree) {
        check(pid, m, s);
    }

    /** Whether the mapping is of a file (no MAP_ANONYMOUS); its identity is then recorded. */
    public boolean fileBacked() {
        return false;
    }

    /**
     * Whether {@link #file} is the mapped file's identity and nothing else (FileMappings.identity),
     * which a read before a pre-copy's freeze may give instead (MappedFilesAhead).
     */
    public boolean identityOfMappedFile() {
        return false;
    }

    /** The identity of the mapped file, for kinds whose restore needs it; null for plain memory. */
    public FileRef file(Pid pid, MapsEntry m, dev.cryo.engine.dump.GhostFiles ghosts) {
        return null;
    }

    /** A shared memfd's seals, which the image keeps with the mapping (VmaImage#seals); -1 for other memory. */
    public int seals(Pid pid, MapsEntry m) {
        return -1;
    }

    /** Adds the runs of pages this mapping carries to {@code scan}; none by default. */
    public void planPages(PageScan scan) {}

    /**
     * Whether the object this area maps is carried whole, also its pages no area of the tree shows
     * ({@link SharedObjectData}): read through the area's map_files entry once every task is collected.
     */
    public boolean objectCarriedWhole() {
        return false;
    }

    // ---- restore -------------------------------------------------------------------------------

    /** The kernel provides these areas in every process (vDSO block, vsyscall): never mapped by restore. */
    public boolean kernelProvided() {
        return false;
    }

    /** Whether page data of the image may land in this area (not in kernel areas, nor where a file holds the contents). */
    public boolean takesPages() {
        return !kernelProvided();
    }

    /** Whether restore must find the mapped file unchanged (device, inode, size, mtime). */
    public boolean checksFile() {
        return fileBacked();
    }

    /** Checked before any process is created: throws a RestoreException if the area cannot be mapped again. */
    public void validate(int pid, VmaImage v) {}

    /** Maps the area in the task being restored, writable if cryo writes pages into it. */
    public void map(TaskContext t, VmaImage v, SharedMemoryHub shared) {
        long flags = Mapper.flags(v) | Mapper.MAP_ANONYMOUS;
        int prot = Mapper.privateProt(v);
        for (long[] piece : Mapper.pieces(v, prot)) {
            t.later("mmap(0x" + Long.toHexString(piece[0]) + ")", SyscallNr.MMAP, piece[0], piece[1] - piece[0], prot,
                    flags, -1, 0);
        }
        VmAdvice.keepAccounted(t, v);
    }

    /** Sets the final protection once the pages are written. */
    public void protect(TaskContext t, VmaImage v) {
        if ((v.prot() & VmaImage.PROT_WRITE) == 0) {
            t.later("mprotect(0x" + Long.toHexString(v.start()) + ")", SyscallNr.MPROTECT, v.start(), v.end() - v.start(),
                    v.prot());
        }
    }

    /** Whether mlock and mseal follow {@link #protect} at once (else {@link #mapSealed} gives them). */
    public boolean locksAfterProtect(VmaImage v) {
        return true;
    }

    /** Maps the area again once the memfds are sealed against writing again, before the FILES stage; nothing by default. */
    public void mapSealed(TaskContext t, VmaImage v, SharedMemoryHub shared) {}

    // ---- show ----------------------------------------------------------------------------------

    /** Adds what {@code cryo show} says of this kind beyond the common fields. */
    public void show(VmaImage v, Map<String, Object> out) {}

    @Override
    public String toString() {
        return name;
    }
}
