package dev.cryo.engine.files;

import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Collections;
import java.util.Set;

/**
 * The modes of everything cryo writes that may hold a process's state (images, staging files, logs, lock and watcher
 * files): files 0600, directories 0700, so that no other user of the host reads memory or keys through them.
 */
public final class PrivateModes {
    /** rw------- */
    public static final Set<PosixFilePermission> FILE = Collections.unmodifiableSet(PosixFilePermissions.fromString("rw-------"));
    /** rwx------ */
    public static final Set<PosixFilePermission> DIR = Collections.unmodifiableSet(PosixFilePermissions.fromString("rwx------"));
    /** {@link #FILE} as an attribute for {@code Files.createFile} and the like, so the file never exists with another mode. */
    public static final FileAttribute<Set<PosixFilePermission>> FILE_ATTRIBUTE = PosixFilePermissions.asFileAttribute(FILE);
    /** {@link #DIR} as an attribute for {@code Files.createDirectories} and the like. */
    public static final FileAttribute<Set<PosixFilePermission>> DIR_ATTRIBUTE = PosixFilePermissions.asFileAttribute(DIR);

    private PrivateModes() {
    }
}
