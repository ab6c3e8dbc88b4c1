package dev.cryo.api;

import java.nio.file.Path;

/** Restore the tree in {@code imageDir}; the restored root becomes a child of this process. */
public record RestoreRequest(Path imageDir) {}
