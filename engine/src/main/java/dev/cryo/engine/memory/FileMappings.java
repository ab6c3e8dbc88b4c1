package dev.cryo.engine.memory;

import dev.cryo.engine.DumpException;
import dev.cryo.engine.files.FileIdentity;
import dev.cryo.engine.files.MountReach;
import dev.cryo.engine.model.FileRef;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.MapsEntry;

import java.io.IOException;

/** What the file mapping kinds share on the dump side. */
final class FileMappings {
    private FileMappings() {}

    /** The mapped file's identity, through map_files: the very file mapped, even if the path was replaced since. */
    static FileRef identity(Pid pid, MapsEntry m) {
        new MountReach(pid).requireMapped(PageScan.mapFile(pid, m).toString(), m.path(),
                "its mapping at 0x" + Long.toHexString(m.start()) + " (" + m.path() + ")");
        try {
            return FileIdentity.of(m.path(), PageScan.mapFile(pid, m));
        } catch (IOException e) {
            throw new DumpException("pid " + pid + ": cannot stat mapped file " + m.path() + ": " + e.getMessage(), e);
        }
    }
}
