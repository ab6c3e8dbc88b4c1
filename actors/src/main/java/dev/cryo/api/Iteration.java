package dev.cryo.api;

import java.nio.file.Path;

/**
 * CRIU's iterative dump across commands ({@code cryo pre-dump}, then {@code cryo dump --prev-images-dir}).
 * {@code previous}: the image of a pre-dump whose write tracking this dump takes over, copying that
 * image's pages not written since and freezing the tree only for the rest (null: none).
 * {@code keepTracking}: the tree, left running, stays tracked after this dump for the next one.
 * Either makes the dump a pre-copy one (tracking exists only there).
 */
public record Iteration(Path previous, boolean keepTracking) {
    public static final Iteration NONE = new Iteration(null, false);

    public boolean any() {
        return previous != null || keepTracking;
    }
}
