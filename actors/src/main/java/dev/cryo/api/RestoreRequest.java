package dev.cryo.api;

import java.nio.file.Path;

/**
 * Restore the tree in {@code imageDir}; the restored root becomes a child of this process.
 * {@code tcpClose}: established TCP connections come back closed (CRIU's --tcp-close).
 */
public record RestoreRequest(Path imageDir, boolean tcpClose) {
    public RestoreRequest(Path imageDir) {
        this(imageDir, false);
    }
}
