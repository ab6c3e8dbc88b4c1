package dev.cryo.engine.files;

import dev.cryo.kernel.Fd;

import java.util.ArrayList;
import java.util.List;

/**
 * The bytes a dump took out of the tree's pty pairs (see {@link PtyQueues}), held with cryo's
 * copies of each pair's ends until the dump ends. Once every task is collected (the image holds
 * them) the dump supervisor calls {@link #putBackFrozen}: they go back into the frozen pairs at once,
 * unseen by the tree, so that cryo's death from there on (a post-dump script, the image's commit, a
 * migration's hold) loses none; a killed tree loses them with itself. Then {@link #release}: bytes not
 * put back yet (a failed dump) go back before the tree is resumed, unless it is killed.
 */
public final class TakenTtyBytes {
    private record Held(Fd master, Fd slave, byte[] termios, PtyQueues.Queued queued) {}

    private final List<Held> held = new ArrayList<>(), putBack = new ArrayList<>();
    private final List<String> problems = new ArrayList<>();
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

    /** Puts the bytes held back into their frozen pairs now; problems wait for {@link #release}. */
    public synchronized void putBackFrozen() {
        for (Held h : held) {
            refill(h);
            putBack.add(h);
        }
        held.clear();
    }

    /**
     * Puts the bytes not put back yet back unless {@code killed}; closes cryo's copies. Problems (of a tree that
     * runs on) are returned, never thrown.
     */
    public synchronized List<String> release(boolean killed) {
        this.released = true;
        this.killed = killed;
        for (Held h : held) {
            if (!killed) {
                refill(h);
            }
        }
        held.addAll(putBack);
        putBack.clear();
        for (Held h : held) {
            h.master().close();
            if (h.slave() != null) {
                h.slave().close();
            }
        }
        held.clear();
        List<String> out = killed ? List.of() : new ArrayList<>(problems); // a killed tree's pairs go with it
        problems.clear();
        return out;
    }

    private void refill(Held h) {
        try {
            PtyQueues.refill(h.master(), h.slave(), h.termios(), h.queued());
        } catch (RuntimeException e) {
            problems.add("putting back the bytes taken from pty " + h.master() + ": " + e.getMessage());
        }
    }
}
