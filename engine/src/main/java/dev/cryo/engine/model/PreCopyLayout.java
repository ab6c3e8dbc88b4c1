package dev.cryo.engine.model;

import java.util.List;

/**
 * Sent in a migration's pre-copy round, before that round's pages: the private, writable
 * anonymous areas of the tree's root task at that moment ({@code bounds}: start, end, start, end…),
 * whether it leads its session and whether it exec'd after its fork (PF_FORKNOEXEC clear). The destination creates the root's stub with them and places
 * the pages in it as they arrive, so the restore after the freeze writes only what changed since
 * (see {@code ArrivingMemory}). Only a hint: a restore ignores it, the task record that follows the
 * freeze is what counts, and an area that no longer matches it is made again from the image.
 */
public record PreCopyLayout(int pid, boolean sessionLeader, List<Long> bounds, boolean execed) {
    public PreCopyLayout {
        bounds = List.copyOf(bounds);
        if (bounds.size() % 2 != 0) {
            throw new IllegalArgumentException("bounds come in pairs");
        }
    }

    public int areas() {
        return bounds.size() / 2;
    }

    public long start(int i) {
        return bounds.get(2 * i);
    }

    public long end(int i) {
        return bounds.get(2 * i + 1);
    }
}
