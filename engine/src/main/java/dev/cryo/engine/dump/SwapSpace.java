package dev.cryo.engine.dump;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Whether this host has swap space in use (/proc/swaps lists an area below its header line). */
final class SwapSpace {
    private SwapSpace() {}

    static boolean enabled() {
        try {
            return Files.readAllLines(Path.of("/proc/swaps")).size() > 1;
        } catch (IOException | RuntimeException e) {
            return true; // unknown: count swapped pages, which only sends more
        }
    }
}
