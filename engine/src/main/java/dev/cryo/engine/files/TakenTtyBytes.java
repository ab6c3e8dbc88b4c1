package dev.cryo.engine.files;

import dev.cryo.kernel.Fd;

import java.util.ArrayList;
import java.util.List;

/**
 * The bytes a dump took out of the tree's pty pairs (see {@link PtyQueues}), held with cryo's
 * copies of each pair's ends until the dump ends. The dump supervisor calls {@link #release}: a tree
 * that runs on — left running, or a failed dump — gets its bytes back before it is resumed; a
 * killed tree's bytes live on in the image only.
 */
public final class TakenTtyBytes {
    private record Held(Fd master, Fd slave, byte[] termios, PtyQueues.Queued queued) {}

    private final List<Held> held = new ArrayList<>();
    private boolean released, killed;

    /**
     * Keeps {@code master} and {@code slave} (may be null), which this object closes. A task dumper
     * still collecting when a failed dump was released gives its bytes back at once.
     */
    public synchronized void hold(Fd master, Fd slave, byte[] termios, PtyQueues.Queued queued) {
        held.add(new Held(master, slave, termios, queued));
        if (released) {
            release(killed);
        }
    }

    /** Puts the bytes back unless {@code killed}; closes cryo's copies. Problems are returned, never thrown. */
    public synchronized List<String> release(boolean killed) {
        this.released = true;
        this.killed = killed;
        List<String> problems = new ArrayList<>();
        for (Held h : held) {
            try {
                if (!killed) {
                    PtyQueues.refill(h.master(), h.slave(), h.termios(), h.queued());
                }
            } catch (RuntimeException e) {
                problems.add("putting back the bytes taken from pty " + h.master() + ": " + e.getMessage());
            } finally {
                h.master().close();
                if (h.slave() != null) {
                    h.slave().close();
                }
            }
        }
        held.clear();
        return problems;
    }
}
