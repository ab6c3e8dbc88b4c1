package dev.cryo.engine.memory;

import dev.cryo.engine.model.FileRef;
import dev.cryo.kernel.DirectoryChanges;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.MapsEntry;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.SmapsEntry;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The identities of a task's mapped files (FileMappings.identity: the map_files link's mount
 * checked, the file's device, inode, size, mtime and mode), read while the task still runs, beside
 * a pre-copy's early smaps read, and confirmed once it is frozen. Resolving a map_files link looks
 * the area up under the task's mm lock: 10-50 ms of a frozen plan for Chromium's ~600 file areas.
 * <p>Confirmed when nothing could have changed them: each file is watched (inotify through its
 * map_files link, which follows to the file itself) before it is read, so a write, truncation or
 * change of owner, mode or times since queues an event; the task's mountinfo is the same text (the
 * mount check's answer depends on the mounts and on where the area's path leads, and the frozen
 * plan requires every maps line, path included, to be the same; a directory on that path renamed
 * meanwhile is not looked at again: the restore's check of the file by its path still is).
 * Not covered (no inotify event): a file's mtime moved by a write through another process's shared
 * mapping, a network filesystem's file changed by another host; the image then records the earlier
 * identity and its restore refuses the file as changed. Areas the task itself maps shared and may
 * write are never read ahead.
 */
public final class MappedFilesAhead implements AutoCloseable {
    private final Pid pid;
    private final DirectoryChanges changes;
    private final String mounts;
    private final Map<MapsEntry, FileRef> identities;

    private MappedFilesAhead(Pid pid, DirectoryChanges changes, String mounts, Map<MapsEntry, FileRef> identities) {
        this.pid = pid;
        this.changes = changes;
        this.mounts = mounts;
        this.identities = identities;
    }

    /** The identities of {@code smaps}' file areas, read now; null when no inotify instance is to be had. */
    public static MappedFilesAhead read(Pid pid, List<SmapsEntry> smaps) {
        return read(pid, smaps, DirectoryChanges.tryOpen());
    }

    /** As above, watching with {@code changes} (null: none to be had), which it closes. */
    public static MappedFilesAhead read(Pid pid, List<SmapsEntry> smaps, DirectoryChanges changes) {
        if (changes == null) {
            return null;
        }
        try {
            String mounts = mountinfo(pid);
            Map<MapsEntry, FileRef> ids = new HashMap<>();
            for (SmapsEntry s : smaps) {
                MemoryKind kind = MemoryKinds.kindOf(s);
                MapsEntry m = s.map();
                if (kind == null || !kind.identityOfMappedFile() || (m.shared() && s.hasFlag("mw"))) {
                    continue;
                }
                changes.watch(PageScan.mapFile(pid, m)); // before its stat: a change after it is seen
                try {
                    ids.put(m, FileMappings.identity(pid, m));
                } catch (RuntimeException e) {
                    // read frozen, which says what is wrong
                }
            }
            return new MappedFilesAhead(pid, changes, mounts, ids);
        } catch (RuntimeException e) { // exiting: the frozen plan reads them
            changes.close();
            return null;
        }
    }

    private static String mountinfo(Pid pid) {
        return ProcFs.text(pid.procDir() + "/mountinfo");
    }

    /**
     * Call once the task is frozen: true when the identities read ahead still hold (see above). The
     * areas themselves must be compared by the caller (same maps lines).
     */
    public boolean confirm() {
        try {
            if (changes.changed()) {
                outcome = "not taken: a watched file changed since (or could not be watched)";
                return false;
            }
            if (!mountinfo(pid).equals(mounts)) {
                outcome = "not taken: the task's mounts changed since";
                return false;
            }
            outcome = "taken";
            return true;
        } catch (RuntimeException e) {
            outcome = "not taken: " + e.getMessage();
            return false;
        }
    }

    private String outcome = "not looked at (the areas changed)";

    /** What became of the identities read ahead, for the debug log. */
    public String outcome() {
        return identities.size() + " mapped area(s) read ahead, " + outcome;
    }

    /** The identity read ahead for area {@code m} (a confirmed read's), else null. */
    public FileRef identity(MapsEntry m) {
        return identities.get(m);
    }

    public int files() {
        return identities.size();
    }

    /** Closed on a thread of its own (DirectoryChanges#close): never waited for in a freeze. */
    @Override
    public void close() {
        changes.close();
    }
}
