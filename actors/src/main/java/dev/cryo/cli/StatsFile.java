package dev.cryo.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

/** A command's figures as JSON beside the image (stats.json, stats-restore.json), for scripts; 0600 like the image. */
final class StatsFile {
    private StatsFile() {}

    static void write(Path file, Map<String, Object> figures) throws IOException {
        Files.deleteIfExists(file);
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(file, Json.pretty(figures) + "\n");
    }
}
