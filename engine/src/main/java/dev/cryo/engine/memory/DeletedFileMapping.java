package dev.cryo.engine.memory;

import dev.cryo.kernel.Fcntl;
import dev.cryo.engine.dump.GhostFiles;
import dev.cryo.engine.model.FileRef;
import dev.cryo.engine.model.VmaImage;
import dev.cryo.engine.restore.SharedMemoryHub;
import dev.cryo.engine.restore.stage.TaskContext;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.SmapsEntry;

/**
 * A mapping of a file that was deleted (unlinked, or replaced by another file at its path) after
 * it was mapped. Its contents go into the image as a ghost file (up to the ghost limit); restore
 * recreates the file, maps it, and unlinks it again. A private mapping also carries its
 * copied-on-write pages.
 */
public final class DeletedFileMapping extends MemoryKind {
    private final boolean shared;

    DeletedFileMapping(int id, String name, boolean shared) {
        super(id, name);
        this.shared = shared;
    }

    @Override
    public boolean matches(MapsEntry m, SmapsEntry s) {
        return m.shared() == shared && m.isFileBacked() && m.deleted();
    }

    @Override
    public boolean fileBacked() {
        return true;
    }

    @Override
    public FileRef file(Pid pid, MapsEntry m, GhostFiles ghosts) {
        return ghosts.carry(pid, "pid " + pid + " mapping at 0x" + Long.toHexString(m.start()), m.path(),
                PageScan.mapFile(pid, m));
    }

    @Override
    public boolean checksFile() {
        return false; // it is gone: the image holds it
    }

    @Override
    public void planPages(PageScan scan) {
        if (!shared) {
            scan.copiedOnWritePages();
        }
    }

    @Override
    public void map(TaskContext t, VmaImage v, SharedMemoryHub objects) {
        String path = objects.ghostPath(v.file());
        int mode = shared ? Mapper.sharedFileMode(v) : Fcntl.O_RDONLY;
        Mapper.mapFile(t, v, path, mode, shared ? v.prot() : Mapper.privateProt(v));
    }

    @Override
    public boolean takesPages() {
        return !shared; // a shared one's contents are in the ghost file
    }

    @Override
    public void protect(TaskContext t, VmaImage v) {
        if (!shared) {
            super.protect(t, v);
        }
    }
}
