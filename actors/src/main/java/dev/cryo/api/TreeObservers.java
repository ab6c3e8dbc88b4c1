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

    /** Called with the root pid and every pid of the tree, sorted (see {@link TreeObservers#cryoArea}). */
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
        frozen(root, pids, java.util.Map.of(), log);
    }

    /**
     * As above, where cryo already holds an area of its own mapped in some tasks ({@code cryoAreas}:
     * pid to start and end; a pre-copy maps it before the freeze): {@link #cryoArea} tells an observer.
     */
    public static void frozen(int root, List<Integer> pids, java.util.Map<Integer, long[]> cryoAreas, org.slf4j.Logger log) {
        CRYO_AREAS.putAll(cryoAreas);
        try {
            each(o -> o.frozenForDump(root, sorted(pids)), log);
        } finally {
            cryoAreas.keySet().forEach(CRYO_AREAS::remove);
        }
    }

    private static final java.util.Map<Integer, long[]> CRYO_AREAS = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * While {@link Observer#frozenForDump} runs: the area cryo mapped in task {@code pid} (start, end),
     * which is no part of the task's state (nor of its image); null when none.
     */
    public static long[] cryoArea(int pid) {
        return CRYO_AREAS.get(pid);
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
