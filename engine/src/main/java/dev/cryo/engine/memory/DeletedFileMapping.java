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
 * copied-on-write pages. A private mapping of a memfd ("/memfd:NAME (deleted)") whose object the
 * restore makes anyway (held by an fd or mapped shared) maps that object.
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
        int links = links(PageScan.mapFile(pid, m));
        String other = links > 0 ? GhostFiles.otherName(m.path(), PageScan.mapFile(pid, m)) : null;
        if (other != null) {
            // glibc's sem_open: mapped under a temporary name, linked to the semaphore's, the
            // temporary one unlinked; the restore maps that file again under the deleted name
            return ghosts.carryLinked(pid, "pid " + pid + " mapping at 0x" + Long.toHexString(m.start()), m.path(),
                    PageScan.mapFile(pid, m), new GhostFiles.Linked(other, 0));
        }
        if (links > 0) {
            // linked elsewhere than its directory: a copy would stand in for it, cut off from the
            // tasks that map it by that name
            throw new dev.cryo.engine.DumpException("pid " + pid + " mapping at 0x" + Long.toHexString(m.start())
                    + ": " + m.path() + " was deleted but the file is still linked under another name (" + links
                    + " link" + (links == 1 ? "" : "s") + "); restoring a copy would cut the mapping off from it:"
                    + " not supported yet");
        }
        return ghosts.carry(pid, "pid " + pid + " mapping at 0x" + Long.toHexString(m.start()), m.path(),
                PageScan.mapFile(pid, m));
    }

    private static int links(java.nio.file.Path mapped) {
        try {
            return ((Number) java.nio.file.Files.getAttribute(mapped, "unix:nlink")).intValue();
        } catch (java.io.IOException | RuntimeException e) {
            return 0; // cannot tell: carried as a deleted file, as before
        }
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

    /** How shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS, opened through map_files) names its file. */
    public static final java.util.Set<String> SHMEM = java.util.Set.of("/dev/zero", "/dev/zero (deleted)");

    @Override
    public void map(TaskContext t, VmaImage v, SharedMemoryHub objects) {
        if (!shared && (v.file().path().startsWith("/memfd:") || SHMEM.contains(v.file().path()))
                && objects.has(v.file().ino())) {
            // a private mapping of a memfd, or of shared anonymous memory (opened through map_files), that a
            // task holds or maps shared: of that very object, so the pages it has not copied on write follow
            // the object's (a copy would freeze them: zdtm memfd02, shmemfd-priv)
            Mapper.mapFile(t, v, objects.path(v.file().ino()), Fcntl.O_RDONLY, Mapper.privateProt(v));
            return;
        }
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
