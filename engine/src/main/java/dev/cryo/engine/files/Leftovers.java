package dev.cryo.engine.files;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Removal of cryo's own temporary files (watch files, pid files, staged nodes): best effort, as none holds state. */
public final class Leftovers {
    private Leftovers() {
    }

    /** Deletes {@code p} if it exists (null: nothing); a failure leaves a stray file behind, and is no error. */
    public static void delete(Path p) {
        if (p == null) {
            return;
        }
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // a stray temporary file of cryo's own
        }
    }
}
