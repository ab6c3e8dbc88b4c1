package dev.cryo.engine.memory;

import dev.cryo.kernel.Fcntl;
import dev.cryo.engine.model.FileRef;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.restore.SharedMemoryHub;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.SmapsEntry;

/**
 * A private mapping of a file (program text and data, libraries): the file gives the pages back,
 * only the copied-on-write ones are carried. Also of a hugetlbfs file: its copies are huge pages.
 */
public final class PrivateFileMapping extends MemoryKind {
    PrivateFileMapping(int id) {
        super(id, "FILE_PRIVATE");
    }

    @Override
    public boolean matches(MapsEntry m, SmapsEntry s) {
        return !m.shared() && m.isFileBacked();
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
    public void planPages(PageScan scan) {
        scan.copiedOnWritePages();
    }

    @Override
    public void map(TaskContext t, VmaImage v, SharedMemoryHub shared) {
        Mapper.mapFile(t, v, v.file().path(), Fcntl.O_RDONLY, Mapper.privateProt(v));
    }
}
