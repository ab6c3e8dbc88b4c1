package dev.cryo.api;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * In-process observers of the two moments a tree stands still with exactly the state an image
 * holds: a dump's tree once every task is stopped and before anything is read or injected, and a
 * restored tree once every task has all its state and before it is released. The tests' state
 * comparator looks at /proc there; an embedding application may too (e.g. to snapshot a
 * filesystem the frozen tree uses). Observers run synchronously on the supervisor's thread while
 * the tree waits: keep them short. An observer that throws is logged and ignored.
 */
public final class TreeObservers {
    private TreeObservers() {}

    /** Called with the root pid and every pid of the tree, sorted. */
    public interface Observer {
        default void frozenForDump(int root, List<Integer> pids) {}

        default void restoredBeforeResume(int root, List<Integer> pids) {}
    }

    private static final List<Observer> OBSERVERS = new CopyOnWriteArrayList<>();

    /** Registers {@code o} until the returned handle is closed. */
    public static AutoCloseable register(Observer o) {
        OBSERVERS.add(o);
        return () -> OBSERVERS.remove(o);
    }

    /** For the dump supervisor: every task of the tree is stopped, nothing read yet. */
    public static void frozen(int root, List<Integer> pids, org.slf4j.Logger log) {
        each(o -> o.frozenForDump(root, sorted(pids)), log);
    }

    /** For the restore supervisor: every task has its state, none released yet. */
    public static void restored(int root, List<Integer> pids, org.slf4j.Logger log) {
        each(o -> o.restoredBeforeResume(root, sorted(pids)), log);
    }

    private static List<Integer> sorted(List<Integer> pids) {
        return pids.stream().sorted().toList();
    }

    private static void each(java.util.function.Consumer<Observer> call, org.slf4j.Logger log) {
        for (Observer o : OBSERVERS) {
            try {
                call.accept(o);
            } catch (RuntimeException e) {
                log.warn("a tree observer failed: {}", e.toString());
            }
        }
    }
}
