package dev.cryo.engine.files;

import dev.cryo.kernel.Fd;

import java.util.ArrayList;
import java.util.List;

/**
 * The bytes a dump took out of the tree's pty pairs (see {@link PtyQueues}), held with cryo's
 * copies of each pair's ends until the dump ends. They go back into the frozen pair as soon as the
 * pair's record holds them ({@link #hold}), unseen by the tree, so that cryo's death from there on
 * (in the collect of another task, a post-dump script, the image's commit, a migration's hold) loses
 * none; a killed tree loses them with itself. {@link #release} closes cryo's copies.
 */
public final class TakenTtyBytes {
    private record Held(Fd master, Fd slave) {}

    private final List<Held> held = new ArrayList<>();
    private final List<String> problems = new ArrayList<>();
    private boolean released;

    /**
     * Puts {@code queued} back into the frozen pair at once (problems wait for {@link #release}) and keeps
     * {@code master} and {@code slave} (may be null), which this object closes; at once too when the dump
     * was released before this dumper was done.
     */
    public synchronized void hold(Fd master, Fd slave, byte[] termios, PtyQueues.Queued queued) {
        try {
            PtyQueues.refill(master, slave, termios, queued);
        } catch (RuntimeException e) {
            problems.add("putting back the bytes taken from pty " + master + ": " + e.getMessage());
        }
        held.add(new Held(master, slave));
        if (released) {
            closeHeld();
        }
    }

    /** Closes cryo's copies. Problems (of a tree that runs on, not {@code killed}) are returned, never thrown. */
    public synchronized List<String> release(boolean killed) {
        released = true;
        closeHeld();
        List<String> out = killed ? List.of() : new ArrayList<>(problems); // a killed tree's pairs go with it
        problems.clear();
        return out;
    }

    private void closeHeld() {
        for (Held h : held) {
            h.master().close();
            if (h.slave() != null) {
                h.slave().close();
            }
        }
        held.clear();
    }
}
