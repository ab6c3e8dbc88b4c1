package dev.cryo.engine.memory;

import dev.cryo.engine.model.FileRef;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.restore.SharedMemoryHub;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.SmapsEntry;

/**
 * A shared mapping of a file: its contents live in the file; mapped again with its own protection.
 * Also of a hugetlbfs file (DPDK's hugepage files): its huge pages stay in the file as well.
 */
public final class SharedFileMapping extends MemoryKind {
    SharedFileMapping(int id) {
        super(id, "FILE_SHARED");
    }

    @Override
    public boolean matches(MapsEntry m, SmapsEntry s) {
        return m.shared() && m.isFileBacked();
    }

    @Override
    public boolean fileBacked() {
        return true;
    }

    @Override
    public FileRef file(Pid pid, MapsEntry m, dev.cryo.engine.dump.GhostFiles ghosts) {
        return FileMappings.identity(pid, m);
    }

    @Override
    public boolean identityOfMappedFile() {
        return true;
    }

    @Override
    public void map(TaskContext t, VmaImage v, SharedMemoryHub shared) {
        Mapper.mapFile(t, v, v.file().path(), Mapper.sharedFileMode(v), v.prot());
    }

    @Override
    public boolean takesPages() {
        return false;
    }

    @Override
    public void protect(TaskContext t, VmaImage v) {
        // mapped with its final protection: cryo writes no pages into it
    }
}
