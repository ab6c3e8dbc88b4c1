package dev.cryo.engine.dump;

import dev.cryo.kernel.KernelException;
import dev.cryo.kernel.Pid;
import dev.cryo.kernel.proc.ProcFs;
import dev.cryo.kernel.proc.SmapsEntry;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * {@code cryo dump --lazy-wait}: a tree whose lazy restore still brings pages in (areas registered for missing
 * pages on a userfaultfd, VmFlags um) is waited for, while it runs, until its last page is in, for at most a
 * bound; the dump then goes on (and refuses such an area by name, as without the wait, if one is left).
 */
public final class LazyRestoreWait {
    /** Between two looks: a look reads every task's smaps (a walk of its page tables). */
    private static final long LOOK_EVERY_MILLIS = 100;

    private LazyRestoreWait() {}

    /** A task of the tree rooted at {@code root} with pages still to come, or null. */
    public static Pid stillFilled(Pid root) {
        Deque<Pid> todo = new ArrayDeque<>();
        todo.add(root);
        while (!todo.isEmpty()) {
            Pid p = todo.poll();
            try {
                for (SmapsEntry s : ProcFs.smaps(p)) {
                    if (s.hasFlag("um")) {
                        return p;
                    }
                }
                todo.addAll(ProcFs.children(p));
            } catch (KernelException e) {
                // gone meanwhile (or the root never was): the dump says so
            }
        }
        return null;
    }

    /**
     * Waits until no task of the tree has pages to come, at most {@code bound}; returns the task that still has
     * some then (null: none). {@code waiting} is told of the first such task, once, when there is one.
     */
    public static Pid await(Pid root, Duration bound, java.util.function.Consumer<Pid> waiting) throws InterruptedException {
        long until = System.nanoTime() + bound.toNanos();
        Pid p = stillFilled(root);
        if (p != null) {
            waiting.accept(p);
        }
        while (p != null && System.nanoTime() < until) {
            Thread.sleep(LOOK_EVERY_MILLIS);
            p = stillFilled(root);
        }
        return p;
    }
}
